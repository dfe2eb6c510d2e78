//! Test support (feature `testing`): real anvil nodes from the npm package
//! `scripts/setup` installs, and deployment of the forge artifacts
//! `scripts/forge build` writes. Panics on failure: tests only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, Bytes};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;

/// anvil's first development account; only ever used on local chain ids.
pub const DEV_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A running anvil, killed on drop.
pub struct Anvil {
    child: Child,
    pub url: String,
    pub chain_id: u64,
}

impl Anvil {
    pub fn start(chain_id: u64) -> Self {
        let bin = repo().join("node_modules/.bin/anvil");
        Self::spawn(&bin, chain_id, &[])
    }

    /// Starts anvil with extra command-line arguments.
    pub fn start_with(chain_id: u64, extra: &[&str]) -> Self {
        Self::spawn(&repo().join("node_modules/.bin/anvil"), chain_id, extra)
    }

    /// Starts anvil on a port it picks itself (`--port 0`) and reads the
    /// port from its "Listening on" line: choosing a free port first and
    /// passing it would race with other processes binding port 0.
    fn spawn(bin: &std::path::Path, chain_id: u64, extra: &[&str]) -> Self {
        use std::io::BufRead;
        assert!(bin.exists(), "anvil not installed: run scripts/setup");
        let mut child = Command::new(bin)
            .args(["--port", "0", "--chain-id", &chain_id.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn anvil");
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let port: u16 = loop {
            let line = lines
                .next()
                .expect("anvil exited before listening")
                .unwrap();
            if let Some(addr) = line.trim().strip_prefix("Listening on ") {
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        // Keep draining stdout so anvil never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "anvil did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url,
            chain_id,
        }
    }

    /// A provider that signs with `key`.
    pub fn provider(&self, key: &str) -> DynProvider {
        let signer: PrivateKeySigner = key.parse().unwrap();
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(self.url.parse().unwrap())
            .erased()
    }
}

impl Anvil {
    /// Stops the node now (as a crash would).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Creation bytecode of a contract from its forge artifact.
pub fn bytecode(contract: &str) -> Vec<u8> {
    let path = repo().join(format!("contracts/out/{contract}.sol/{contract}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run scripts/forge build", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hex = v["bytecode"]["object"].as_str().unwrap();
    alloy::primitives::hex::decode(hex).unwrap()
}

/// Deploys `contract` with ABI-encoded constructor `args`.
pub async fn deploy(p: &DynProvider, contract: &str, args: Vec<u8>) -> Address {
    let mut code = bytecode(contract);
    code.extend(args);
    let tx = TransactionRequest::default().with_deploy_code(Bytes::from(code));
    let receipt = mined(p, tx).await;
    assert!(receipt.status(), "deploying {contract} reverted");
    receipt.contract_address.unwrap()
}

/// Sends `tx` from `p`'s key and waits for its receipt.
async fn mined(p: &DynProvider, tx: TransactionRequest) -> alloy::rpc::types::TransactionReceipt {
    p.send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
}

/// anvil's account 0: deploys TestUSD and owns it in tests.
pub const DEPLOYER: Address =
    alloy::primitives::address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

/// Sends `data` to `to` from `p`'s key and asserts it succeeded.
pub async fn send(p: &DynProvider, to: Address, data: Vec<u8>) {
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_input(Bytes::from(data));
    assert!(mined(p, tx).await.status(), "call to {to} reverted");
}

/// Mints `amount` TestUSD base units to `to` (`p` signs as the owner).
pub async fn mint(p: &DynProvider, token: Address, to: Address, amount: alloy::primitives::U256) {
    send(p, token, crate::evm::contracts::mint_call(to, amount)).await;
}

/// Deploys TestUSD (owned by [`DEPLOYER`], which `p` must sign as) and a
/// `PayoutBatcher` of `signers` at `threshold` holding `float` base units:
/// (token, batcher).
pub async fn deploy_batcher(
    p: &DynProvider,
    signers: &[Address],
    threshold: u64,
    float: alloy::primitives::U256,
) -> (Address, Address) {
    let token = deploy(p, "TestUSD", crate::evm::contracts::owner_args(DEPLOYER)).await;
    let batcher = deploy(
        p,
        "PayoutBatcher",
        crate::evm::contracts::signer_set_args(signers, threshold),
    )
    .await;
    mint(p, token, batcher, float).await;
    (token, batcher)
}
