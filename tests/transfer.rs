//! End to end on three local chains: `switchyard devnet up` starts them
//! and deploys the contracts, `switchyard serve` executes a transfer the
//! router chose, and the balances on chain show exactly what moved. The
//! daemon is SIGKILLed between signing and broadcast, and between
//! broadcast and confirmation: after each restart nothing is lost and
//! nothing is paid twice.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::{Value, json};
use switchyard_chains::evm::EvmChain;
use switchyard_core::U256;
use switchyard_core::address::{Address, ChainKind};
use switchyard_core::chain::ChainReader;
use switchyard_core::finality::Finality;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
const RECIPIENT: &str = "0x00000000000000000000000000000000c0ffee00";

struct Devnet {
    child: Child,
    dir: PathBuf,
    info: Value,
}

impl Devnet {
    fn up(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sy-devnet-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = Command::new(BIN)
            .args(["devnet", "up", "--free-ports", "--listen-port", "0"])
            .arg("--dir")
            .arg(&dir)
            .arg("--topology")
            .arg(Path::new(REPO).join("config/topology/devnet.toml"))
            .arg("--anvil")
            .arg(Path::new(REPO).join("node_modules/.bin/anvil"))
            .arg("--artifacts")
            .arg(Path::new(REPO).join("contracts/out"))
            .env_remove("SWITCHYARD_RELAYER_KEY")
            .env_remove("SWITCHYARD_SIGNER_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn devnet");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("devnet ready"), "devnet said {line:?}");
        let info = serde_json::from_str(&std::fs::read_to_string(dir.join("devnet.json")).unwrap())
            .unwrap();
        Self { child, dir, info }
    }

    fn env(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.dir.join("env"))
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn chain(&self, name: &str) -> (EvmChain, Address) {
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

    async fn balance(&self, chain: &str, who: &str) -> U256 {
        let (c, token) = self.chain(chain);
        let who = Address::parse(ChainKind::Evm, "who", who).unwrap();
        c.token_balance(&token, &who).await.unwrap()
    }

    fn escrow(&self) -> String {
        self.info["chains"][0]["escrow"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn relayer(&self) -> String {
        self.info["relayer"].as_str().unwrap().to_owned()
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

struct Daemon {
    child: Child,
    addr: String,
}

impl Daemon {
    fn start(devnet: &Devnet, crash_at: Option<&str>) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--config")
            .arg(devnet.dir.join("switchyard.toml"))
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
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("daemon said {line:?}"))
            .to_owned();
        Self { child, addr }
    }

    fn client(&self) -> HttpClient {
        HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(10))
            .build(format!("http://{}", self.addr))
            .unwrap()
    }

    /// Waits for the crash drill's SIGKILL.
    fn killed(mut self) {
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

async fn call(c: &HttpClient, method: &str, params: Value) -> Result<Value, (i32, Value)> {
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

async fn wait_done(c: &HttpClient, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let t = call(c, "transfer_status", json!({ "transfer_id": id }))
            .await
            .unwrap();
        match t["state"].as_str().unwrap() {
            "done" => return t,
            "failed" => panic!("transfer failed: {t:#}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "transfer not done: {t:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn amount(v: &Value) -> U256 {
    U256::from_str_radix(v.as_str().unwrap(), 10).unwrap()
}

fn request(key: &str, amount: &str) -> Value {
    json!({
        "idempotency_key": key,
        "from": "devnet-a:TUSD",
        "to": "devnet-c:TUSD",
        "amount": amount,
        "recipient": RECIPIENT,
        "mode": "cheapest",
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deposit_on_a_reaches_c_through_b_along_the_route_the_router_chose() {
    let net = Devnet::up("route");
    let daemon = Daemon::start(&net, None);
    let c = daemon.client();

    // The router's choice for 250 TUSD: through B (the direct A->C escrow
    // charges 60 bps); the fastest route is the direct one.
    let q = call(
        &c,
        "route_quote",
        json!({"from": "devnet-a:TUSD", "to": "devnet-c:TUSD", "amount": "250", "mode": "cheapest"}),
    )
    .await
    .unwrap();
    let legs: Vec<&str> = q["routes"][0]["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["bridge"].as_str().unwrap())
        .collect();
    assert_eq!(legs, ["escrow-a-b", "escrow-b-c"]);
    let fast = call(
        &c,
        "route_quote",
        json!({"from": "devnet-a:TUSD", "to": "devnet-c:TUSD", "amount": "250", "mode": "fastest"}),
    )
    .await
    .unwrap();
    assert_eq!(fast["routes"][0]["legs"][0]["bridge"], "escrow-a-c");

    let relayer = net.relayer();
    let escrow = net.escrow();
    let before = (
        net.balance("devnet-a", &relayer).await,
        net.balance("devnet-b", &relayer).await,
        net.balance("devnet-a", &escrow).await,
        net.balance("devnet-c", &escrow).await,
    );
    assert_eq!(net.balance("devnet-c", RECIPIENT).await, U256::ZERO);

    let r = call(&c, "transfer_submit", request("route-1", "250"))
        .await
        .unwrap();
    assert_eq!(r["created"], true);
    let id = r["transfer"]["id"].as_str().unwrap().to_owned();
    let hops: Vec<&str> = r["transfer"]["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["bridge"].as_str().unwrap())
        .collect();
    assert_eq!(hops, legs, "the transfer follows the quoted route");

    // The same key and request: the same transfer, not a second one.
    let again = call(&c, "transfer_submit", request("route-1", "250"))
        .await
        .unwrap();
    assert_eq!(
        (again["created"].clone(), again["transfer"]["id"].clone()),
        (json!(false), json!(id))
    );
    // The same key for another request: refused, naming the field.
    let (code, data) = call(&c, "transfer_submit", request("route-1", "251"))
        .await
        .unwrap_err();
    assert_eq!(
        (code, data["field"].clone()),
        (4009, json!("idempotency_key"))
    );

    // Bad input names its field and moves nothing.
    let mut bad = request("route-bad", "250");
    bad["recipient"] = json!("0x00000000000000000000000000000000C0FFee00");
    let (code, data) = call(&c, "transfer_submit", bad).await.unwrap_err();
    assert_eq!((code, data["field"].clone()), (4001, json!("recipient")));
    let mut bad = request("route-bad", "250");
    bad["mode"] = json!("pareto");
    let (code, data) = call(&c, "transfer_submit", bad).await.unwrap_err();
    assert_eq!((code, data["field"].clone()), (4001, json!("mode")));
    let (code, data) = call(&c, "transfer_submit", request("route-bad", "-1"))
        .await
        .unwrap_err();
    assert_eq!((code, data["field"].clone()), (4001, json!("amount")));
    let (code, _) = call(
        &c,
        "transfer_status",
        json!({"transfer_id": "tr_0000000000000000"}),
    )
    .await
    .unwrap_err();
    assert_eq!(code, 4002);

    let t = wait_done(&c, &id).await;
    let h = t["hops"].as_array().unwrap();
    let sent = amount(&h[0]["amount_in"]);
    assert_eq!(sent, U256::from(250_000_000u64));
    let received = amount(&h[1]["amount_out"]);
    assert_eq!(amount(&h[0]["amount_out"]), amount(&h[1]["amount_in"]));
    for hop in h {
        assert_eq!(hop["state"], "done");
        assert!(
            hop["deposit_id"].is_string()
                && hop["deposit_tx"].is_string()
                && hop["release_tx"].is_string()
        );
    }
    let quoted = switchyard_core::Amount::parse_decimal(
        "amount_out",
        q["routes"][0]["amount_out"].as_str().unwrap(),
        6,
    )
    .unwrap();
    assert_eq!(received, quoted.raw, "the quote's amount arrived");

    // On chain: exactly what the route said moved.
    assert_eq!(net.balance("devnet-c", RECIPIENT).await, received);
    assert_eq!(net.balance("devnet-a", &relayer).await, before.0 - sent);
    assert_eq!(
        net.balance("devnet-b", &relayer).await,
        before.1,
        "B's float is back"
    );
    assert_eq!(net.balance("devnet-a", &escrow).await, before.2 + sent);
    assert_eq!(net.balance("devnet-c", &escrow).await, before.3 - received);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_between_signing_and_submit_and_between_submit_and_confirmation_loses_nothing_and_pays_once()
 {
    let net = Devnet::up("crash");
    let relayer = net.relayer();
    let escrow = net.escrow();
    let relayer_a = net.balance("devnet-a", &relayer).await;
    let escrow_c = net.balance("devnet-c", &escrow).await;

    // 1. Killed right after the first deposit is signed and stored.
    let d = Daemon::start(&net, Some("signed::0:deposit"));
    let r = call(&d.client(), "transfer_submit", request("crash-1", "100"))
        .await
        .unwrap();
    let id = r["transfer"]["id"].as_str().unwrap().to_owned();
    d.killed();
    assert_eq!(
        net.balance("devnet-a", &relayer).await,
        relayer_a,
        "nothing left A yet"
    );

    // 2. Restarted, killed right after the last release is broadcast.
    let d = Daemon::start(&net, Some("broadcast::1:release"));
    d.killed();

    // 3. Restarted for good: the transfer completes from the store.
    let d = Daemon::start(&net, None);
    let c = d.client();
    let t = wait_done(&c, &id).await;
    let h = t["hops"].as_array().unwrap();
    let sent = amount(&h[0]["amount_in"]);
    let received = amount(&h[1]["amount_out"]);
    assert_eq!(
        net.balance("devnet-c", RECIPIENT).await,
        received,
        "paid exactly once"
    );
    assert_eq!(
        net.balance("devnet-a", &relayer).await,
        relayer_a - sent,
        "deposited exactly once"
    );
    assert_eq!(
        net.balance("devnet-c", &escrow).await,
        escrow_c - received,
        "released exactly once"
    );
    // Resubmitting after all that is still the same transfer.
    let again = call(&c, "transfer_submit", request("crash-1", "100"))
        .await
        .unwrap();
    assert_eq!(again["created"], false);
    assert_eq!(again["transfer"]["state"], "done");
}
