//! Reflexes on real chains: a local chain that stops answering trips its
//! breaker within seconds; its bridges leave routing with the reason, its
//! payouts wait instead of failing, other chains keep paying; when it
//! answers again the breaker closes and the waiting payouts settle.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, Devnet, amount, call};
use jsonrpsee::http_client::HttpClient;
use serde_json::{Value, json};

fn signal(pid: u64, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

fn health(d: &Daemon) -> Value {
    serde_json::from_str(&d.get("/health").1).unwrap()
}

async fn wait_for(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn status(c: &HttpClient, id: &str) -> Value {
    call(c, "payout_status", json!({ "id": id })).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_chain_trips_its_breaker_payouts_wait_and_settle_after_it_recovers() {
    let net = Devnet::up("breaker");
    let d = Daemon::start(&net, None);
    let c = d.client();
    let pid_c = net.info["chains"][2]["anvil_pid"].as_u64().unwrap();

    // devnet-c stops answering (the process is frozen, its socket open).
    signal(pid_c, "-STOP");
    let t0 = Instant::now();
    let h = wait_for("the breaker of devnet-c", 40, async || {
        let h = health(&d);
        h["breakers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["subject"] == "chain devnet-c" && b["breaker"]["state"] == "open")
            .then_some(h)
    })
    .await;
    let tripped_after = t0.elapsed();
    assert!(
        h["breakers"].to_string().contains("consecutive failures"),
        "{h}"
    );

    // Its bridges leave routing, with the reason.
    let q = call(
        &c,
        "route_quote",
        json!({"from": "devnet-a:TUSD", "to": "devnet-c:TUSD", "amount": "250"}),
    )
    .await
    .unwrap();
    assert!(q["routes"].as_array().unwrap().is_empty(), "{q}");
    let reasons: Vec<(String, String)> = q["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["bridge"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        reasons.contains(&("escrow-a-c".into(), "breaker_open".into())),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("escrow-b-c".into(), "breaker_open".into())),
        "{reasons:?}"
    );

    // A payout to devnet-c waits; one to devnet-a settles meanwhile.
    let r = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "during-outage", "items": [
            { "to": "devnet-c:TUSD", "recipient": "0x00000000000000000000000000000000000c0c0c", "amount": "12.5" },
            { "to": "devnet-a:TUSD", "recipient": "0x00000000000000000000000000000000000a0a0a", "amount": "7" },
        ]}),
    )
    .await
    .unwrap();
    let (on_c, on_a) = (
        r["ids"][0].as_str().unwrap().to_owned(),
        r["ids"][1].as_str().unwrap().to_owned(),
    );
    let held = wait_for("the devnet-c payout held", 20, async || {
        let s = status(&c, &on_c).await;
        (s["state"] == "held").then_some(s)
    })
    .await;
    assert!(
        held["reason"].as_str().unwrap().contains("breaker open"),
        "{held}"
    );
    wait_for("the devnet-a payout final", 60, async || {
        let s = status(&c, &on_a).await;
        (s["state"] == "final").then_some(s)
    })
    .await;
    assert_eq!(
        status(&c, &on_c).await["state"],
        "held",
        "still waiting, not failed"
    );

    // devnet-c answers again: half-open, probes succeed, closed; the
    // payout goes out.
    signal(pid_c, "-CONT");
    wait_for("the breaker of devnet-c to close", 40, async || {
        let h = health(&d);
        (!h["breakers"].to_string().contains("devnet-c")).then_some(h)
    })
    .await;
    let s = wait_for("the devnet-c payout final", 60, async || {
        let s = status(&c, &on_c).await;
        (s["state"] == "final").then_some(s)
    })
    .await;
    assert_eq!(
        net.balance("devnet-c", "0x00000000000000000000000000000000000c0c0c")
            .await,
        amount(&s["amount"])
    );
    eprintln!(
        "breaker tripped {:.1} s after the chain froze",
        tripped_after.as_secs_f64()
    );
}
