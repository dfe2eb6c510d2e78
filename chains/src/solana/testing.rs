//! Test support (feature `testing`): a real local validator, the binary
//! `scripts/setup` builds from the `solana-test-validator` crate into the
//! cache directory, started on its own ledger and ports, killed on drop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::signature::{Keypair, Signer};

/// Where `scripts/setup` puts the validator: `$SWITCHYARD_VALIDATOR`, or
/// `bin/switchyard-validator` under `$SWITCHYARD_CACHE` (default
/// `~/.cache/switchyard`).
pub fn validator_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SWITCHYARD_VALIDATOR") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("SWITCHYARD_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/switchyard")
        });
    cache.join("bin/switchyard-validator")
}

/// A running local validator.
pub struct SolanaValidator {
    child: Child,
    pub url: String,
    /// Holds the genesis lamports.
    pub faucet: Keypair,
    ledger: PathBuf,
}

static NEXT: AtomicU16 = AtomicU16::new(0);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SolanaValidator {
    /// Starts a validator on a fresh ledger and waits until it has a
    /// finalized slot.
    pub async fn start() -> Self {
        let bin = validator_binary();
        assert!(
            bin.exists(),
            "{} is missing: run scripts/setup (it builds the local Solana validator once)",
            bin.display()
        );
        let faucet = Keypair::new();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let slot = (u32::from(n) * 7 + std::process::id() * 13) % 300;
        let low = 21_000 + u16::try_from(slot).unwrap() * 60;
        let ledger = std::env::temp_dir().join(format!("switchyard-sol-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&ledger);
        let rpc_port = free_port();
        let mut child = Command::new(&bin)
            .args(["--ledger", ledger.to_str().unwrap()])
            .args(["--rpc-port", &rpc_port.to_string()])
            .args(["--mint", &faucet.pubkey().to_string()])
            .args(["--port-range", &format!("{low}-{}", low + 59)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the validator");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("ready rpc=") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(90))
            .expect("the validator did not start within 90 s");
        let v = Self {
            child,
            url,
            faucet,
            ledger,
        };
        super::setup::wait_ready(&v.rpc(), Duration::from_secs(60))
            .await
            .expect("no finalized slot");
        v
    }

    pub fn rpc(&self) -> RpcClient {
        RpcClient::new_with_commitment(self.url.clone(), CommitmentConfig::confirmed())
    }

    /// Stops the validator now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SolanaValidator {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.ledger);
    }
}
