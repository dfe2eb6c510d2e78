//! The operators' console on the real daemon and the devnet chains, in
//! Debian's chromium driven headless by `tests/console/console.mjs`: a
//! wallet key is refused, an operator pauses a bridge and the route
//! explorer routes around it and the audit log shows it, two operators
//! approve a large payout and it settles, a frozen chain's breaker opens
//! in the page. This file sets the scene, runs the browser, and checks on
//! the API and on chain what the page did. It takes a screenshot of every
//! view; `SWITCHYARD_SCREENSHOTS=docs` copies them over `docs/console/`.
//!
//! The live feed behind the page (`ops_subscribe`) is checked on its own
//! with jsonrpsee's WebSocket client.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Daemon, Devnet, REPO, audit_pairs, call, payout_in, wait_for};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{Value, json};
use switchyard_core::U256;

/// Where the browser is: `CHROMIUM`, else Debian's.
fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn governed(net: &Devnet) {
    net.edit_config(|mut t| {
        t.push_str("\n[[relayer.governor]]\nchain = \"devnet-c\"\nbudget_usd = \"300\"\nwindow_ms = 3600000\nlarge_usd = \"1000\"\nlarge_delay_ms = 1000\n");
        t.push_str("\n[[relayer.merchant_budget]]\nmerchant = \"acme\"\nbudget_usd = \"2000\"\nwindow_ms = 86400000\nmax_item_usd = \"1000\"\n");
        t
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_run_the_system_from_the_console_in_a_real_browser() {
    assert!(
        Path::new(&chromium()).exists(),
        "{} is missing: scripts/setup installs Debian's chromium",
        chromium()
    );
    let net = Devnet::up_with("console", &["--auth"]);
    governed(&net);
    let d = Daemon::start_console(&net);
    let url = d.console.clone().unwrap();
    let acme = d.client_as(&net.token("acme"));
    let root = d.client_as(&net.token("root"));

    // A payout that needs two operators (500 TUSD and more), and payouts
    // on the governed chain: three fit its 300 USD budget, one waits.
    let big_to = format!("0x{:040x}", 0xc0501e_u64);
    let mut items = vec![json!({ "to": "devnet-b:TUSD", "recipient": big_to, "amount": "600" })];
    for n in 0..4u64 {
        items.push(json!({ "to": "devnet-c:TUSD", "recipient": format!("0x{:040x}", 0x00c0_c000 + n), "amount": "90" }));
    }
    let r = call(
        &acme,
        "payout_submit",
        json!({ "idempotency_key": "console", "items": items }),
    )
    .await
    .unwrap();
    let ids: Vec<String> = serde_json::from_value(r["ids"].clone()).unwrap();
    payout_in(&acme, &ids[0], "held").await;

    // acme's budget: $960 used of $2,000 a day, no item over $1,000. Over
    // either, the request is refused naming the limit, and nothing of it
    // is stored.
    let one = |amount: &str| json!({ "to": "devnet-a:TUSD", "recipient": format!("0x{:040x}", 0xb0d9e7_u64), "amount": amount });
    let (code, data) = call(
        &acme,
        "payout_submit",
        json!({ "idempotency_key": "too-big", "items": [one("1"), one("1100")] }),
    )
    .await
    .unwrap_err();
    assert_eq!(code, 4022, "{data}");
    assert_eq!(data["field"], "items[1].amount");
    assert_eq!(data["limit"], "relayer.merchant_budget.max_item_usd");
    let (code, data) = call(
        &acme,
        "payout_submit",
        json!({ "idempotency_key": "too-much", "items": [one("400"), one("400"), one("400")] }),
    )
    .await
    .unwrap_err();
    assert_eq!(code, 4022, "{data}");
    assert_eq!(data["limit"], "relayer.merchant_budget.budget_usd");
    assert_eq!(
        (data["used_usd"].as_str(), data["requested_usd"].as_str()),
        (Some("960"), Some("1200"))
    );
    let listed = call(&acme, "payout_list", json!({})).await.unwrap();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        5,
        "nothing of the refused requests was stored"
    );

    // Screenshots go to a fresh directory (so each is proven taken by this
    // run); SWITCHYARD_SCREENSHOTS=docs copies them over docs/console/.
    let shots = net.dir.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let pid_c = net.info_of("devnet-c")["anvil_pid"].as_u64().unwrap();
    let out = tokio::task::spawn_blocking({
        let (url, shots) = (url.clone(), shots.clone());
        let keys = ["olivia", "oscar", "wally"].map(|w| net.token(w));
        let big = ids[0].clone();
        move || {
            Command::new("node")
                .arg("tests/console/console.mjs")
                .current_dir(REPO)
                .env("CONSOLE_URL", &url)
                .env("KEY_OLIVIA", &keys[0])
                .env("KEY_OSCAR", &keys[1])
                .env("KEY_WALLY", &keys[2])
                .env("BIG_PAYOUT", big)
                .env("FREEZE_PID", pid_c.to_string())
                .env("SHOTS", &shots)
                .env("CHROMIUM", chromium())
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("run node")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the browser test failed: {stdout}");
    let measured: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    let seen = measured["breaker_open_seen_ms"].as_u64().unwrap();
    eprintln!(
        "console: breaker open in the page {:.1} s after the chain froze, closed again after {:.1} s",
        seen as f64 / 1000.0,
        measured["breaker_closed_again_ms"].as_f64().unwrap_or(0.0) / 1000.0
    );

    // What the page did, on the API: the pause and resume by olivia with
    // her reasons, the two approvals by distinct operators.
    let audit = call(&root, "ops_audit", json!({ "limit": 1000 }))
        .await
        .unwrap();
    assert_eq!(audit["verified"], true, "{audit}");
    let pairs = audit_pairs(&audit, "actor", "action");
    for want in [
        ("olivia", "pause"),
        ("olivia", "resume"),
        ("olivia", "approve"),
        ("oscar", "approve"),
    ] {
        assert!(
            pairs.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} in {pairs:?}"
        );
    }
    let pause = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "pause")
        .unwrap();
    assert_eq!(pause["target"], "bridge:escrow-a-b");
    assert_eq!(
        pause["reason"],
        "signer rotation on escrow-a-b (console test)"
    );
    // The routes the page showed while it was paused avoided it, as the
    // router does.
    let routes = measured["routes_after_pause"].as_array().unwrap();
    assert!(!routes.is_empty());
    assert!(
        !Value::from(routes.clone())
            .to_string()
            .contains("escrow-a-b"),
        "{routes:?}"
    );

    // The large payout settles, its recipient paid exactly.
    payout_in(&acme, &ids[0], "final").await;
    assert_eq!(
        net.balance("devnet-b", &big_to).await,
        U256::from(600_000_000u64)
    );
    // The governed chain paid what fit and holds the rest.
    for id in &ids[1..4] {
        payout_in(&acme, id, "final").await;
    }
    let held = payout_in(&acme, &ids[4], "held").await;
    assert!(
        held["reason"].as_str().unwrap().contains("governor"),
        "{held}"
    );
    for view in [
        "network",
        "network-breaker-open",
        "queues",
        "approvals",
        "limits",
        "routes",
        "audit",
        "phone",
    ] {
        let f = shots.join(format!("{view}.png"));
        let len = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
        assert!(len > 10_000, "{} was taken ({len} bytes)", f.display());
        if std::env::var("SWITCHYARD_SCREENSHOTS").as_deref() == Ok("docs") {
            let docs = Path::new(REPO).join("docs/console");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::copy(&f, docs.join(format!("{view}.png"))).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_feed_sends_every_section_then_only_what_changed_and_keeps_roles() {
    let net = Devnet::up_with("feed", &["--auth"]);
    let d = Daemon::start_console(&net);
    let ws_as = async |who: &str| {
        let mut headers = jsonrpsee::http_client::HeaderMap::new();
        headers.insert(
            "Authorization",
            format!("Bearer {}", net.token(who)).parse().unwrap(),
        );
        WsClientBuilder::default()
            .set_headers(headers)
            .build(format!("ws://{}", d.addr))
            .await
            .unwrap()
    };

    // A wallet or merchant key cannot watch the operators' view.
    for who in ["wally", "acme"] {
        let ws = ws_as(who).await;
        let e = ws
            .subscribe::<Value, _>("ops_subscribe", rpc_params![], "ops_unsubscribe")
            .await
            .err()
            .unwrap_or_else(|| panic!("{who} subscribed"));
        assert!(e.to_string().contains("4031"), "{who}: {e}");
        let me: Value = ws.request("auth_whoami", rpc_params![]).await.unwrap();
        assert_eq!(me["operates"], false, "{me}");
    }

    let ws = ws_as("oscar").await;
    let me: Value = ws.request("auth_whoami", rpc_params![]).await.unwrap();
    assert_eq!(
        me,
        json!({ "name": "oscar", "role": "operator", "operates": true })
    );
    let mut feed = ws
        .subscribe::<Value, _>("ops_subscribe", rpc_params![], "ops_unsubscribe")
        .await
        .unwrap();
    let first = feed.next().await.unwrap().unwrap();
    let sections: Vec<&str> = first["sections"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        sections,
        [
            "approvals",
            "assets",
            "audit_head",
            "bridges",
            "chains",
            "changes",
            "history",
            "limits",
            "pauses",
            "queues"
        ]
    );
    let chains = first["sections"]["chains"].as_array().unwrap();
    assert_eq!(chains.len(), 3);
    assert!(chains.iter().all(|c| c["vm"] == "evm"
        && c["breaker"]["state"] == "closed"
        && c["endpoints"][0]["state"] == "ok"));
    let head = first["sections"]["audit_head"].as_i64().unwrap();

    // An operator pauses a chain over HTTP: the feed says so, with only
    // the sections that changed (and no copy of the unchanged ones).
    let olivia = d.client_as(&net.token("olivia"));
    call(
        &olivia,
        "ops_pause",
        json!({ "kind": "chain", "target": "devnet-b", "reason": "maintenance window" }),
    )
    .await
    .unwrap();
    let update = wait_for("the pause in the feed", 10, async || {
        let u = tokio::time::timeout(Duration::from_secs(5), feed.next())
            .await
            .ok()??
            .ok()?;
        u["sections"].get("pauses").is_some().then_some(u)
    })
    .await;
    let s = &update["sections"];
    assert_eq!(s["pauses"][0]["target"], "devnet-b");
    assert_eq!(s["pauses"][0]["actor"], "olivia");
    assert_eq!(s["audit_head"].as_i64(), Some(head + 1));
    let b = s["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["chain"] == "devnet-b")
        .unwrap();
    assert_eq!(b["paused"]["reason"], "maintenance window");
    assert_eq!(b["last_change"]["action"], "pause");
    assert!(
        s.get("assets").is_none(),
        "unchanged sections are not sent again: {s}"
    );
    assert!(
        s.get("history").is_none(),
        "history is sent whole once: {s}"
    );

    // The feed goes on (the devnet's heads move every half second), never
    // with the history whole again.
    for _ in 0..6 {
        let u = tokio::time::timeout(Duration::from_millis(2500), feed.next())
            .await
            .expect("a notification at least every 2 s")
            .unwrap()
            .unwrap();
        assert!(u["sections"].get("history").is_none(), "{u}");
    }

    // Revoking the key ends its subscription: the feed does not outlive it.
    let root = d.client_as(&net.token("root"));
    let keys = call(&root, "keys_list", json!({})).await.unwrap();
    let oscar = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "oscar")
        .unwrap()["id"]
        .clone();
    call(&root, "keys_revoke", json!({ "id": oscar }))
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(_)) = feed.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the revoked key's feed went on");

    // The console's page: its own files, a strict policy, and its origin
    // may call the API (a foreign one may not).
    let url = d.console.clone().unwrap();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let res = reqwest::get(format!("{url}config.json")).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let policy = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("default-src 'none'; script-src 'self'"),
        "{policy}"
    );
    let cfg: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(
        cfg["api"],
        format!("ws://127.0.0.1:{}", d.addr.rsplit(':').next().unwrap())
    );
    let origin = format!("http://{host}");
    let answer = async |origin: &str| {
        reqwest::Client::new()
            .post(format!("http://{}", d.addr))
            .header("Origin", origin)
            .header("Authorization", format!("Bearer {}", net.token("oscar")))
            .header("Content-Type", "application/json")
            .body(json!({ "jsonrpc": "2.0", "id": 1, "method": "auth_whoami" }).to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(answer(&origin).await, 200);
    assert_eq!(answer("http://evil.example").await, 403);

    // A browser's handshake: the key as a subprotocol, the console's
    // origin; the answer switches protocols and names `switchyard`.
    let handshake = |key: &str| {
        format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\nSec-WebSocket-Protocol: switchyard, bearer.{key}\r\n\r\n",
            d.addr
        )
    };
    let answer = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(&d.addr).await.unwrap();
        s.write_all(handshake(&net.token("olivia")).as_bytes())
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase()
    };
    assert!(answer.starts_with("http/1.1 101"), "{answer}");
    assert!(
        answer.contains("sec-websocket-protocol: switchyard\r\n"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_feed_with_nothing_new_sends_heartbeats() {
    // A daemon that only quotes the shipped topology: nothing it shows
    // changes, so after the whole view only heartbeats come.
    let mut child = Command::new(common::BIN)
        .args([
            "serve",
            "--config",
            "config/switchyard.toml",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(REPO)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = common::listening_addr(&mut child);
    let ws = WsClientBuilder::default()
        .build(format!("ws://{addr}"))
        .await
        .unwrap();
    let mut feed = ws
        .subscribe::<Value, _>("ops_subscribe", rpc_params![], "ops_unsubscribe")
        .await
        .unwrap();
    let first = feed.next().await.unwrap().unwrap();
    assert_eq!(first["sections"]["chains"].as_array().unwrap().len(), 10);
    let mut last = std::time::Instant::now();
    for _ in 0..3 {
        let beat = tokio::time::timeout(Duration::from_secs(4), feed.next())
            .await
            .expect("a heartbeat at least every 2 s")
            .unwrap()
            .unwrap();
        assert_eq!(beat["sections"], json!({}), "{beat}");
        assert!(beat.get("history_append").is_none(), "{beat}");
        assert!(
            last.elapsed() >= Duration::from_millis(1500),
            "heartbeats, not a stream"
        );
        last = std::time::Instant::now();
    }
    let _ = child.kill();
    let _ = child.wait();
}
