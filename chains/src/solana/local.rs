//! A local validator (the devnet, the benchmark and the tests): the binary
//! `scripts/setup` builds from the `solana-test-validator` crate into the
//! cache directory, started on its own ledger and ports, killed on drop. It
//! exits by itself when this process dies (its standard input closes).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::signature::{Keypair, Signer};
use switchyard_core::chain::{ChainError, ChainResult};

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
pub struct LocalValidator {
    child: Child,
    // Held open: the validator exits when it closes.
    _stdin: Option<std::process::ChildStdin>,
    /// Its JSON-RPC URL.
    pub url: String,
    /// Holds the genesis lamports (500M SOL).
    pub faucet: Keypair,
    ledger: PathBuf,
    remove_ledger: bool,
}

impl std::fmt::Debug for LocalValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalValidator")
            .field("url", &self.url)
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

static NEXT: AtomicU16 = AtomicU16::new(0);

fn free_port() -> ChainResult<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| ChainError::Transport(format!("no free port: {e}")))
}

impl LocalValidator {
    /// Starts a validator on a fresh temporary ledger (removed on drop) and
    /// waits until it has a finalized slot.
    pub async fn start() -> ChainResult<Self> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let ledger =
            std::env::temp_dir().join(format!("switchyard-sol-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&ledger);
        let mut v = Self::start_at(&ledger, free_port()?, Keypair::new()).await?;
        v.remove_ledger = true;
        Ok(v)
    }

    /// Starts a validator on `ledger` (resumed if it exists) with its RPC on
    /// `rpc_port`, `faucet` holding the genesis lamports of a new ledger.
    pub async fn start_at(ledger: &Path, rpc_port: u16, faucet: Keypair) -> ChainResult<Self> {
        let bin = validator_binary();
        if !bin.exists() {
            return Err(ChainError::Transport(format!(
                "{} is missing: run scripts/setup (it builds the local Solana validator once)",
                bin.display()
            )));
        }
        // A port range of its own (gossip, TPU, repair...): 60 ports in
        // 21000-38999, spread by process and instance.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let slot = (u32::from(n) * 7 + std::process::id() * 13) % 300;
        let low = 21_000 + u16::try_from(slot).unwrap_or(0) * 60;
        let mut child = Command::new(&bin)
            .arg("--ledger")
            .arg(ledger)
            .args(["--rpc-port", &rpc_port.to_string()])
            .args(["--mint", &faucet.pubkey().to_string()])
            .args(["--port-range", &format!("{low}-{}", low + 59)])
            .arg("--exit-with-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| ChainError::Transport(format!("cannot start {}: {e}", bin.display())))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| ChainError::Transport("validator has no stdout".into()))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("ready rpc=") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let mut v = Self {
            child,
            _stdin: stdin,
            url: String::new(),
            faucet,
            ledger: ledger.to_owned(),
            remove_ledger: false,
        };
        v.url = rx.recv_timeout(Duration::from_secs(120)).map_err(|_| {
            ChainError::Transport("the validator did not start within 120 s".into())
        })?;
        super::setup::wait_ready(&v.rpc(), Duration::from_secs(60)).await?;
        Ok(v)
    }

    /// One validator for every caller in this process (started by the
    /// first); it exits with the process.
    pub async fn shared() -> ChainResult<&'static LocalValidator> {
        static SHARED: tokio::sync::OnceCell<LocalValidator> = tokio::sync::OnceCell::const_new();
        SHARED.get_or_try_init(Self::start).await
    }

    /// A client at `confirmed`.
    pub fn rpc(&self) -> RpcClient {
        RpcClient::new_with_commitment(self.url.clone(), CommitmentConfig::confirmed())
    }

    /// The validator's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the validator now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalValidator {
    fn drop(&mut self) {
        self.kill();
        if self.remove_ledger {
            let _ = std::fs::remove_dir_all(&self.ledger);
        }
    }
}
