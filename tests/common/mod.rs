//! Shared by the end-to-end tests: a devnet started with `switchyard devnet
//! up`, the daemon started with `switchyard serve`, a JSON-RPC client.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::Value;
use switchyard_chains::evm::EvmChain;
use switchyard_core::U256;
use switchyard_core::address::{Address, ChainKind};
use switchyard_core::chain::ChainReader;
use switchyard_core::finality::Finality;

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");
pub const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
pub const MAINNET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topology/mainnet.toml");

/// Runs the binary with `args` from the repository's root.
pub fn switchyard(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(REPO)
        .output()
        .expect("run switchyard")
}

/// `switchyard quote --topology <mainnet> EXTRA...`.
pub fn quote(extra: &[&str]) -> std::process::Output {
    let mut args = vec!["quote", "--topology", MAINNET];
    args.extend_from_slice(extra);
    switchyard(&args)
}

/// The address of a daemon's first line on stdout, `listening on ADDR`.
pub fn listening_addr(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout piped"))
        .read_line(&mut line)
        .expect("read the daemon's stdout");
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the daemon said {line:?}"))
        .to_owned()
}

pub struct Devnet {
    child: Child,
    pub dir: PathBuf,
    pub info: Value,
    /// What `devnet up` printed on stdout up to `devnet ready`.
    pub said: String,
}

impl Devnet {
    pub fn up(name: &str) -> Self {
        Self::up_with(name, &[])
    }

    /// [`Devnet::up`] with extra `devnet up` arguments: the EVM chains
    /// only (no Solana validator).
    pub fn up_with(name: &str, extra: &[&str]) -> Self {
        Self::spawn(name, extra, false)
    }

    /// The whole devnet topology, its Solana chain included.
    pub fn up_solana(name: &str, extra: &[&str]) -> Self {
        Self::spawn(name, extra, true)
    }

    fn spawn(name: &str, extra: &[&str], solana: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("sy-devnet-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = Command::new(BIN)
            .args([
                "devnet",
                "up",
                "--free-ports",
                "--listen-port",
                "0",
                "--console-port",
                "0",
            ])
            .arg("--dir")
            .arg(&dir)
            .arg("--topology")
            .arg(Path::new(REPO).join("config/topology/devnet.toml"))
            .arg("--anvil")
            .arg(Path::new(REPO).join("node_modules/.bin/anvil"))
            .arg("--artifacts")
            .arg(Path::new(REPO).join("contracts/out"))
            .args(extra)
            .args(if solana {
                &[][..]
            } else {
                &["--skip-solana"][..]
            })
            .env_remove("SWITCHYARD_RELAYER_KEY")
            .env_remove("SWITCHYARD_SOLANA_KEY")
            .env_remove("SWITCHYARD_SOLANA_VAULT_KEYS")
            .env_remove("SWITCHYARD_SIGNER_KEY")
            .env_remove("SWITCHYARD_IDENTITY_KEY")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn devnet");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut said = String::new();
        loop {
            let mut line = String::new();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "devnet exited before it was ready"
            );
            said.push_str(&line);
            if line.starts_with("devnet ready") {
                break;
            }
        }
        let info = serde_json::from_str(&std::fs::read_to_string(dir.join("devnet.json")).unwrap())
            .unwrap();
        Self {
            child,
            dir,
            info,
            said,
        }
    }

    pub fn env(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.dir.join("env"))
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    pub fn chain(&self, name: &str) -> (EvmChain, Address) {
        let c = self.info["chains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["chain"] == name)
            .unwrap();
        let chain = EvmChain::reader(
            c["rpc_url"].as_str().unwrap(),
            c["chain_id"].as_u64().unwrap(),
            Finality::Blocks { blocks: 1 },
        )
        .unwrap();
        let token = Address::parse(ChainKind::Evm, "t", c["token"].as_str().unwrap()).unwrap();
        (chain, token)
    }

    pub async fn balance(&self, chain: &str, who: &str) -> U256 {
        let (c, token) = self.chain(chain);
        let who = Address::parse(ChainKind::Evm, "who", who).unwrap();
        c.token_balance(&token, &who).await.unwrap()
    }

    pub fn escrow(&self) -> String {
        self.info["chains"][0]["escrow"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn relayer(&self) -> String {
        self.info["relayer"].as_str().unwrap().to_owned()
    }

    /// Where the relayer's funds are: the `Treasury` contract (the same
    /// address on every devnet chain).
    pub fn treasury(&self) -> String {
        self.info["chains"][0]["treasury"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        // SIGTERM, so the devnet stops its anvils.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

pub struct Daemon {
    child: Child,
    pub addr: String,
    /// The console's URL, for a daemon started with [`Daemon::start_console`].
    pub console: Option<String>,
}

impl Daemon {
    pub fn start(devnet: &Devnet, crash_at: Option<&str>) -> Self {
        Self::start_env(devnet, crash_at, &[])
    }

    /// [`Daemon::start`] on another config file of the devnet.
    pub fn start_config(devnet: &Devnet, config: &Path) -> Self {
        Self::spawn(devnet, config, None, &[])
    }

    /// [`Daemon::start`] with extra environment variables.
    pub fn start_env(devnet: &Devnet, crash_at: Option<&str>, extra: &[(&str, &str)]) -> Self {
        Self::spawn(devnet, &devnet.dir.join("switchyard.toml"), crash_at, extra)
    }

    /// [`Daemon::start`], also reading the console's `console on URL` line.
    pub fn start_console(devnet: &Devnet) -> Self {
        Self::spawn_full(devnet, &devnet.dir.join("switchyard.toml"), None, &[], true)
    }

    fn spawn(
        devnet: &Devnet,
        config: &Path,
        crash_at: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::spawn_full(devnet, config, crash_at, extra, false)
    }

    fn spawn_full(
        devnet: &Devnet,
        config: &Path,
        crash_at: Option<&str>,
        extra: &[(&str, &str)],
        console: bool,
    ) -> Self {
        let mut cmd = Command::new(BIN);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.arg("serve")
            .arg("--config")
            .arg(config)
            .envs(devnet.env())
            .env("RUST_LOG", "warn")
            .env_remove("SWITCHYARD_CRASH_AT")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(c) = crash_at {
            cmd.env("SWITCHYARD_CRASH_AT", c);
        }
        let mut child = cmd.spawn().expect("spawn daemon");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        // A crash drill may fire while the daemon resumes, before it binds.
        let addr = match line.trim().strip_prefix("listening on ") {
            Some(a) => a.to_owned(),
            None if crash_at.is_some() => String::new(),
            None => panic!("daemon said {line:?}"),
        };
        let console = console.then(|| {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            line.trim()
                .strip_prefix("console on ")
                .unwrap_or_else(|| panic!("daemon said {line:?}"))
                .to_owned()
        });
        Self {
            child,
            addr,
            console,
        }
    }

    pub fn client(&self) -> HttpClient {
        HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(10))
            .build(format!("http://{}", self.addr))
            .unwrap()
    }

    /// A client sending `token` as its bearer API key.
    pub fn client_as(&self, token: &str) -> HttpClient {
        let mut headers = jsonrpsee::http_client::HeaderMap::new();
        headers.insert("Authorization", format!("Bearer {token}").parse().unwrap());
        HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(10))
            .set_headers(headers)
            .build(format!("http://{}", self.addr))
            .unwrap()
    }

    /// `GET path` on the API port: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.addr, path)
    }

    /// Waits for the crash drill's SIGKILL.
    pub fn killed(mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert_eq!(status.signal(), Some(9), "died by SIGKILL: {status:?}");
                return;
            }
            assert!(Instant::now() < deadline, "the crash drill never fired");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn call(c: &HttpClient, method: &str, params: Value) -> Result<Value, (i32, Value)> {
    let Value::Object(map) = params else {
        panic!("params must be an object")
    };
    let mut p = jsonrpsee::core::params::ObjectParams::new();
    for (k, v) in map {
        p.insert(&k, v).unwrap();
    }
    c.request::<Value, _>(method, p).await.map_err(|e| match e {
        jsonrpsee::core::client::Error::Call(o) => (
            o.code(),
            o.data()
                .map(|d| serde_json::from_str(d.get()).unwrap())
                .unwrap_or(Value::Null),
        ),
        other => panic!("transport error: {other}"),
    })
}

pub fn amount(v: &Value) -> U256 {
    U256::from_str_radix(v.as_str().unwrap(), 10).unwrap()
}

/// `GET path` from `addr` over plain HTTP/1.1: (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Polls `f` every 250 ms until it gives a value, for at most `secs`.
pub async fn wait_for(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The payout `id` once it reaches `state` (within 60 s), read through the
/// generated client.
pub async fn payout_in(c: &HttpClient, id: &str, state: &str) -> Value {
    use switchyard_api::PayoutApiClient;
    wait_for(&format!("{id} {state}"), 60, async || {
        let p = c
            .payout_status(switchyard_api::payout::IdParams { id: id.into() })
            .await
            .unwrap();
        (p.state == state).then(|| serde_json::to_value(p).unwrap())
    })
    .await
}

/// `(a, b)` of each audit entry in an `ops_audit` answer.
pub fn audit_pairs(audit: &Value, a: &str, b: &str) -> Vec<(String, String)> {
    audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[a].as_str().unwrap().to_owned(),
                e[b].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// anvil's account 0: deploys and owns TestUSD on the devnet.
pub const DEPLOYER_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

impl Devnet {
    /// `devnet.json`'s entry for `chain`.
    pub fn info_of(&self, chain: &str) -> Value {
        self.info["chains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["chain"] == chain)
            .unwrap()
            .clone()
    }

    /// An address field of `chain` (`token`, `escrow`, `payout_batcher`).
    pub fn addr(&self, chain: &str, field: &str) -> alloy_primitives::Address {
        self.info_of(chain)[field]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// A provider on `chain` that signs with the deployer (TestUSD's owner).
    pub fn deployer(&self, chain: &str) -> alloy::providers::DynProvider {
        let url = self.info_of(chain)["rpc_url"].as_str().unwrap().to_owned();
        switchyard_chains::evm::deploy::wallet_provider(&url, DEPLOYER_KEY).unwrap()
    }

    /// Sends `data` to `to` on `chain` from the deployer and waits for it.
    pub async fn send(&self, chain: &str, to: alloy_primitives::Address, data: Vec<u8>) {
        switchyard_chains::evm::deploy::call(&self.deployer(chain), to, data)
            .await
            .unwrap();
    }

    /// The co-signers' keystore passphrase (`cosigners.env`).
    pub fn cosigner_passphrase(&self) -> String {
        std::fs::read_to_string(self.dir.join("cosigners.env"))
            .unwrap()
            .trim()
            .strip_prefix("export SWITCHYARD_COSIGNER_PASSPHRASE=")
            .unwrap()
            .to_owned()
    }

    /// A key from `env` (`SWITCHYARD_RELAYER_KEY`, ...).
    pub fn env_key(&self, name: &str) -> String {
        self.env()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap()
    }

    /// Rewrites the devnet's topology file the daemon reads.
    pub fn edit_topology(&self, f: impl FnOnce(String) -> String) {
        let path = self.dir.join("topology.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, f(text)).unwrap();
    }

    /// Rewrites the devnet's daemon config.
    pub fn edit_config(&self, f: impl FnOnce(String) -> String) {
        let path = self.dir.join("switchyard.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, f(text)).unwrap();
    }

    /// The API token of a devnet `--auth` key (`root`, `olivia`, `acme`, ...).
    pub fn token(&self, who: &str) -> String {
        let keys: Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("keys.json")).unwrap())
                .unwrap();
        keys[who]["token"].as_str().unwrap().to_owned()
    }

    /// Drains `chain`'s escrow into `sink` with a release the signer set
    /// signs for a deposit that never was (the signers are the authority).
    pub async fn drain_escrow(&self, chain: &str, sink: alloy_primitives::Address) -> U256 {
        let escrow = self.addr(chain, "escrow");
        let token = self.addr(chain, "token");
        let (c, t) = self.chain(chain);
        let held = c.token_balance(&t, &Address::Evm(escrow)).await.unwrap();
        // Two of the three co-signers' keys, out of their keystores: a
        // compromised signer set, which is what draining takes.
        let pass = self.cosigner_passphrase();
        let keys = ["cosigner-1", "cosigner-2"]
            .iter()
            .map(|n| {
                switchyard_cosigner::keys::open_secp256k1(&self.dir.join(n).join("key.json"), &pass)
                    .unwrap()
            })
            .collect();
        let set = switchyard_chains::evm::attest::LocalAttester::new(keys, "key");
        let chain_id = self.info_of(chain)["chain_id"].as_u64().unwrap();
        let release = switchyard_bridges::escrow::ReleaseOrder {
            source_chain_id: 999,
            deposit_id: alloy_primitives::keccak256(format!("drain/{}", held)),
            destination_chain_id: chain_id,
            escrow,
            token,
            recipient: sink,
            amount: held,
            deadline: switchyard_core::now_ms() / 1000 + 3600,
        }
        .attestation();
        let data = switchyard_chains::evm::attest::calldata(&release, &set.sign(&release).unwrap());
        self.send(chain, escrow, data).await;
        held
    }
}

/// A call whose transport may fail (the daemon is killed under it).
pub async fn fire(c: &HttpClient, method: &str, params: Value) {
    let Value::Object(map) = params else {
        panic!("params must be an object")
    };
    let mut p = jsonrpsee::core::params::ObjectParams::new();
    for (k, v) in map {
        p.insert(&k, v).unwrap();
    }
    let _ = c.request::<Value, _>(method, p).await;
}
