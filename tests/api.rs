//! End to end: the daemon, started as a user starts it, spoken to over
//! HTTP and WebSocket with a real JSON-RPC client.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::{ArrayParams, ObjectParams};
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{Value, json};

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/switchyard.toml");
const TOPOLOGY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topology/mainnet.toml");

struct Daemon {
    child: Child,
    addr: String,
}

impl Daemon {
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Self {
        Self::start_config(CONFIG, extra)
    }

    fn start_config(config: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", "--config", config, "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn daemon");
        let addr = common::listening_addr(&mut child);
        Self { child, addr }
    }

    fn http(&self) -> jsonrpsee::http_client::HttpClient {
        HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(10))
            .build(format!("http://{}", self.addr))
            .unwrap()
    }

    fn get(&self, path: &str) -> (u16, String) {
        common::http_get(&self.addr, path)
    }

    fn post_raw(&self, body: &str) -> Value {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        // The server may close early on an oversized body: a failed write or
        // read is an answer too, the test then checks the daemon is alive.
        let _ = write!(
            s,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        // Bodies may be chunked; the JSON object is between the outer braces.
        let start = body.find('{').unwrap_or(0);
        let end = body.rfind('}').map(|e| e + 1).unwrap_or(body.len());
        serde_json::from_str(&body[start..end]).unwrap_or(Value::Null)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn error_of(e: jsonrpsee::core::client::Error) -> (i32, Value) {
    match e {
        jsonrpsee::core::client::Error::Call(obj) => (
            obj.code(),
            obj.data()
                .map(|d| serde_json::from_str(d.get()).unwrap())
                .unwrap_or(Value::Null),
        ),
        other => panic!("expected a call error, got {other}"),
    }
}

fn cli_quote(args: &[&str]) -> Value {
    let mut all = vec!["quote", "--topology", TOPOLOGY, "--json"];
    all.extend_from_slice(args);
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(&all)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn route_quote_over_http_matches_the_cli() {
    let d = Daemon::start();
    let mut p = ObjectParams::new();
    p.insert("from", "ethereum:USDT").unwrap();
    p.insert("to", "solana:USDC").unwrap();
    p.insert("amount", "2500").unwrap();
    let over_rpc: Value = d.http().request("route_quote", p).await.unwrap();
    let over_cli = cli_quote(&[
        "--from",
        "ethereum:USDT",
        "--to",
        "solana:USDC",
        "--amount",
        "2500",
    ]);
    assert_eq!(over_rpc, over_cli);
    assert!(over_rpc["routes"].as_array().unwrap().len() >= 2);
}

#[tokio::test]
async fn route_quote_over_websocket_with_positional_params() {
    let d = Daemon::start();
    let ws = WsClientBuilder::default()
        .build(format!("ws://{}", d.addr))
        .await
        .unwrap();
    let q: Value = ws
        .request(
            "route_quote",
            rpc_params![json!({"from": "tron:USDT", "to": "arbitrum:USDC", "amount": "1000", "mode": "fastest"})],
        )
        .await
        .unwrap();
    assert_eq!(q["routes"].as_array().unwrap().len(), 1);
    let legs = q["routes"][0]["legs"].as_array().unwrap();
    assert_eq!(legs.last().unwrap()["to"], "arbitrum:USDC");
}

#[tokio::test]
async fn errors_have_stable_codes_and_name_the_field() {
    let d = Daemon::start();
    let c = d.http();
    let call = |params: Value| {
        let c = c.clone();
        async move {
            let mut a = ArrayParams::new();
            a.insert(params).unwrap();
            c.request::<Value, _>("route_quote", a).await
        }
    };
    let cases = [
        (
            json!({"from": "ethereum:USDT", "to": "solana:USDC", "amount": 5}),
            -32602,
            "amount",
        ),
        (
            json!({"from": "ethereum:USDT", "to": "solana:USDC"}),
            -32602,
            "amount",
        ),
        (
            json!({"from": "ethereum:USDT", "to": "solana:USDC", "amount": "1", "colour": 1}),
            -32602,
            "colour",
        ),
        (
            json!({"from": "ethereum:USDT", "to": "solana:USDC", "amount": "1", "max_hops": -1}),
            -32602,
            "max_hops",
        ),
        (
            json!({"from": "ethereum:USDT", "to": "solana:USDC", "amount": "-1"}),
            4001,
            "amount",
        ),
        (
            json!({"from": "ethereum:USDT", "to": "solana:USDC", "amount": "0.0000001"}),
            4001,
            "amount",
        ),
        (
            json!({"from": "ethereum:USDT", "to": "solana:USDC", "amount": "1", "mode": "best"}),
            4001,
            "mode",
        ),
        (
            json!({"from": "ethereum:USDT", "to": "solana:USDC", "amount": "1", "max_hops": 99}),
            4001,
            "max_hops",
        ),
        (
            json!({"from": "ethereum:USDT", "to": "solana:USDC", "amount": "1", "max_eta_s": 60}),
            4001,
            "max_eta_s",
        ),
        (
            json!({"from": "ethereum:USDT", "to": "solana:USDC", "amount": "1", "min_success_p": 0.9}),
            4001,
            "min_success_p",
        ),
        (
            json!({"from": "ethereum:", "to": "solana:USDC", "amount": "1"}),
            4001,
            "from",
        ),
        (
            json!({"from": "mars:USDT", "to": "solana:USDC", "amount": "1"}),
            4002,
            "from.chain",
        ),
        (
            json!({"from": "ethereum:USDT", "to": "solana:DAI", "amount": "1"}),
            4002,
            "to.asset",
        ),
    ];
    for (params, code, field) in cases {
        let (got_code, data) = error_of(call(params.clone()).await.unwrap_err());
        assert_eq!(got_code, code, "{params}");
        assert_eq!(data["field"], field, "{params}");
    }
    // A wrong JSON type is said in the API's words, not Rust's.
    let e =
        call(json!({"from": "ethereum:USDT", "to": "solana:USDC", "amount": "1", "max_hops": "4"}))
            .await
            .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("expected a whole number"), "{text}");
    assert!(!text.contains("u64"), "{text}");
    // A typo, or the wrong case, is answered with the closest known names.
    for (from, field, value) in [
        ("etherum:USDT", "from.chain", "etherum"),
        ("ethereum:usdt", "from.asset", "usdt"),
        ("Ethereum:USDT", "from.chain", "Ethereum"),
    ] {
        let e = call(json!({"from": from, "to": "solana:USDC", "amount": "1"}))
            .await
            .unwrap_err();
        let message = match &e {
            jsonrpsee::core::client::Error::Call(obj) => obj.message().to_owned(),
            other => panic!("{other}"),
        };
        let (code, data) = error_of(e);
        assert_eq!(code, 4002, "{from}");
        assert_eq!(data["field"], field, "{from}");
        assert_eq!(data["value"], value, "{from}");
        assert_eq!(data["suggestions"][0], "ethereum:USDT", "{from}: {data}");
        assert!(
            message.starts_with(&format!(
                "unknown {field}: {value}; did you mean ethereum:USDT"
            )),
            "{message}"
        );
    }
}

#[tokio::test]
async fn discover_health_and_metrics() {
    let d = Daemon::start();
    let doc: Value = d
        .http()
        .request("rpc.discover", rpc_params![])
        .await
        .unwrap();
    assert_eq!(doc["openrpc"], "1.2.6");
    let names: Vec<&str> = doc["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "route_quote",
            "transfer_submit",
            "transfer_status",
            "payout_submit",
            "payout_status",
            "payout_list",
            "payout_cancel",
            "payout_deliveries",
            "payout_subscribe",
            "ops_pause",
            "ops_resume",
            "ops_status",
            "ops_audit",
            "transfer_refund",
            "ops_batch_cancel",
            "ops_lane_resume",
            "ops_approve",
            "ops_reject",
            "auth_whoami",
            "ops_view",
            "ops_subscribe",
            "keys_create",
            "keys_revoke",
            "keys_list",
            "rpc.discover"
        ]
    );

    // Without a [relayer] section the daemon quotes but refuses to execute.
    let mut p = ObjectParams::new();
    p.insert("idempotency_key", "k").unwrap();
    p.insert("from", "ethereum:USDC").unwrap();
    p.insert("to", "base:USDC").unwrap();
    p.insert("amount", "10").unwrap();
    p.insert("recipient", "0x000000000000000000000000000000000000dead")
        .unwrap();
    let e = d
        .http()
        .request::<Value, _>("transfer_submit", p)
        .await
        .unwrap_err();
    assert_eq!(error_of(e).0, 4003);

    let (status, body) = d.get("/health");
    assert_eq!(status, 200);
    let h: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["chains"], 10);

    let mut p = ObjectParams::new();
    p.insert("from", "ethereum:USDC").unwrap();
    p.insert("to", "base:USDC").unwrap();
    p.insert("amount", "10").unwrap();
    let _: Value = d.http().request("route_quote", p).await.unwrap();
    let (status, text) = d.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        text.contains("switchyard_quote_latency_seconds_count{mode=\"pareto\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("switchyard_rpc_calls_total{method=\"route_quote\",outcome=\"ok\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn malformed_requests_never_take_the_daemon_down() {
    let d = Daemon::start();
    let junk = [
        "",
        "{",
        "[]",
        "null",
        r#"{"jsonrpc":"2.0","id":1,"method":"route_quote","params":"x"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"route_quote","params":[1,2,3]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"route_quote","params":{"from":[],"to":{},"amount":null}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"route_quote","params":{"from":"ethereum:USDT","to":"solana:USDC","amount":"99999999999999999999999999999999999999999999999999999999999999999999999999999999"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"route_quote","params":{"from":"ethereum:USDT","to":"solana:USDC","amount":"1","weights":{"fee":1e400}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"no_such_method"}"#,
    ];
    for body in junk {
        let v = d.post_raw(body);
        if !v.is_null() {
            assert!(
                v.get("error").is_some() || v.as_array().is_some(),
                "{body} -> {v}"
            );
        }
    }
    // A huge array is refused by size, not processed.
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"route_quote","params":[{}]}}"#,
        vec!["1"; 600_000].join(",")
    );
    let refused = d.post_raw(&big);
    assert!(
        refused.get("result").is_none(),
        "an oversized request must not be answered with a result"
    );
    // Still answering.
    let (status, _) = d.get("/health");
    assert_eq!(status, 200);
}

#[test]
fn sigterm_stops_the_daemon_cleanly() {
    let mut d = Daemon::start();
    let pid = d.child.id().to_string();
    let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(ok.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn probes_publish_live_chain_readings_to_health() {
    let anvil = switchyard_chains::testing::Anvil::start(31337);
    let dir = std::env::temp_dir().join(format!("sy-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let devnet = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/topology/devnet.toml"
    ))
    .unwrap();
    let topo = dir.join("topology.toml");
    std::fs::write(&topo, devnet.replace("http://127.0.0.1:8545", &anvil.url)).unwrap();
    let d = Daemon::start_with(&["--topology", topo.to_str().unwrap()]);
    // The first probe round runs at start.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let reading = loop {
        let (_, body) = d.get("/health");
        let h: Value = serde_json::from_str(&body).unwrap();
        let found = h["readings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["chain"] == "devnet-a")
            .cloned();
        if let Some(r) = found {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no reading of devnet-a: {h}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(reading["stale"], false);
    assert!(reading["head"].as_u64().is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A config file in a fresh directory: the mainnet topology, plus `extra`.
fn config_with(name: &str, extra: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sy-edge-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("switchyard.toml");
    std::fs::write(&path, format!("topology = \"{TOPOLOGY}\"\n{extra}")).unwrap();
    path
}

#[test]
fn without_auth_a_listen_address_beyond_loopback_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--config", CONFIG, "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.listen") && err.contains("[auth]"),
        "{err}"
    );
}

fn post_with(addr: &str, origin: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: x\r\n{origin}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn requests_from_a_browser_origin_not_allowed_are_refused_over_http_and_websocket() {
    let quote = r#"{"jsonrpc":"2.0","id":1,"method":"route_quote","params":{"from":"ethereum:USDT","to":"base:USDC","amount":"100"}}"#;
    let d = Daemon::start();
    let (status, body) = post_with(&d.addr, Some("http://evil.example"), quote);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("origin not allowed"), "{body}");
    let mut headers = jsonrpsee::http_client::HeaderMap::new();
    headers.insert("Origin", "http://evil.example".parse().unwrap());
    let ws = WsClientBuilder::default()
        .set_headers(headers)
        .build(format!("ws://{}", d.addr))
        .await;
    assert!(ws.is_err(), "the WebSocket handshake is refused");
    // No Origin (not a browser): served.
    let (status, body) = post_with(&d.addr, None, quote);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"result\""), "{body}");
    drop(d);

    let cfg = config_with(
        "origins",
        "[server]\nallowed_origins = [\"https://console.example\"]\n",
    );
    let d = Daemon::start_config(cfg.to_str().unwrap(), &[]);
    let (status, body) = post_with(&d.addr, Some("https://console.example"), quote);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"result\""), "{body}");
    let (status, _) = post_with(&d.addr, Some("https://console.example.evil"), quote);
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_id_of_the_wrong_type_gets_an_error_with_a_null_id_and_subscriptions_over_http_say_to_use_websocket()
 {
    let d = Daemon::start();
    for id in ["true", "[1]", "{\"a\":1}"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"route_quote","params":{{}}}}"#);
        let v = d.post_raw(&body);
        assert_eq!(v["id"], Value::Null, "{body} -> {v}");
        assert_eq!(v["error"]["code"], -32600, "{body} -> {v}");
        assert!(v.get("id").is_some(), "the id member is there: {v}");
    }
    let v = d.post_raw(r#"{"jsonrpc":"2.0","id":7,"method":"payout_subscribe","params":{}}"#);
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("WebSocket"), "{v}");
    assert_ne!(v["error"]["code"], -32603, "{v}");
}

#[test]
fn rpc_urls_are_redacted_in_logs_errors_and_health() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let secret =
        format!("http://user:hunter2@127.0.0.1:{port}/v3/SECRETKEY0123?apikey=SECRETQUERY");
    let devnet = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/topology/devnet.toml"
    ))
    .unwrap();
    let dir = std::env::temp_dir().join(format!("sy-redact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let topo = dir.join("topology.toml");
    std::fs::write(&topo, devnet.replace("http://127.0.0.1:8545", &secret)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--config", CONFIG, "--listen", "127.0.0.1:0"])
        .args(["--topology", topo.to_str().unwrap()])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = common::listening_addr(&mut child);
    // A few failing probe rounds.
    std::thread::sleep(Duration::from_secs(4));
    let (_, health) = common::http_get(&addr, "/health");
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    for text in [logs.as_ref(), health.as_str()] {
        for leak in ["hunter2", "SECRETKEY0123", "SECRETQUERY"] {
            assert!(!text.contains(leak), "{leak} leaked: {text}");
        }
    }
    assert!(
        health.contains(&format!("http://127.0.0.1:{port}/…")),
        "{health}"
    );
    assert!(logs.contains("127.0.0.1"), "the endpoint is still named");
    std::fs::remove_dir_all(&dir).unwrap();
}
