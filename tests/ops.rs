//! Reflexes on real chains: a local chain that stops answering trips its
//! breaker within seconds; its bridges leave routing with the reason, its
//! payouts wait instead of failing, other chains keep paying; when it
//! answers again the breaker closes and the waiting payouts settle.

mod common;

use std::process::Command;
use std::time::Instant;

use common::{Daemon, Devnet, amount, audit_pairs, call, wait_for};
use jsonrpsee::http_client::HttpClient;
use serde_json::{Value, json};
use switchyard_api::ops::AuditParams;
use switchyard_api::payout::IdParams;
use switchyard_api::{OpsApiClient, PayoutApiClient};

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

async fn status(c: &HttpClient, id: &str) -> Value {
    let p = c.payout_status(IdParams { id: id.into() }).await.unwrap();
    serde_json::to_value(p).unwrap()
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
        amount(&s["amount_base"])
    );
    eprintln!(
        "breaker tripped {:.1} s after the chain froze",
        tripped_after.as_secs_f64()
    );
}

fn legs(q: &Value) -> Vec<String> {
    q["routes"][0]["legs"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|x| x["bridge"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_pause_and_resume_with_a_hash_chained_audit_that_shows_tampering() {
    let net = Devnet::up("ops");
    let d = Daemon::start(&net, None);
    let c = d.client();
    let quote = json!({"from": "devnet-a:TUSD", "to": "devnet-c:TUSD", "amount": "250", "mode": "cheapest"});
    assert_eq!(
        legs(&call(&c, "route_quote", quote.clone()).await.unwrap()),
        ["escrow-a-b", "escrow-b-c"]
    );

    // Pausing a bridge: the next quote routes around it, saying why.
    let pause = |kind: &str, target: &str, reason: &str| json!({ "kind": kind, "target": target, "reason": reason, "actor": "alice" });
    // A mistyped chain is answered like a mistyped asset: the field, the
    // value, the closest names.
    for (method, params, field, value, near) in [
        (
            "ops_pause",
            pause("chain", "devnet-q", "x"),
            "target",
            "devnet-q",
            "devnet-a",
        ),
        (
            "ops_pause",
            pause("route", "devnet-a:TUSD->devnet-cc:TUSD", "x"),
            "target.to.chain",
            "devnet-cc",
            "devnet-c:TUSD",
        ),
        (
            "ops_lane_resume",
            json!({"chain": "Devnet-B", "reason": "x"}),
            "chain",
            "Devnet-B",
            "devnet-b",
        ),
    ] {
        let (code, data) = call(&c, method, params.clone()).await.unwrap_err();
        assert_eq!(code, 4002, "{params}: {data}");
        assert_eq!(data["field"], field, "{params}: {data}");
        assert_eq!(data["value"], value, "{params}: {data}");
        assert_eq!(data["suggestions"][0], near, "{params}: {data}");
    }
    let r = call(
        &c,
        "ops_pause",
        pause("bridge", "escrow-a-b", "validator set rotation"),
    )
    .await
    .unwrap();
    assert_eq!(r["audit"]["seq"], 1);
    let q = call(&c, "route_quote", quote.clone()).await.unwrap();
    assert_eq!(legs(&q), ["escrow-a-c"]);
    let ex = q["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["bridge"] == "escrow-a-b")
        .unwrap()
        .clone();
    assert_eq!(ex["reason"], "paused");
    assert!(
        ex["detail"]
            .as_str()
            .unwrap()
            .contains("validator set rotation (by alice)"),
        "{ex}"
    );

    // Pausing a chain: its payouts wait; resuming lets them through.
    call(&c, "ops_pause", pause("chain", "devnet-b", "incident 42"))
        .await
        .unwrap();
    let r = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "paused-b", "items": [
            { "to": "devnet-b:TUSD", "recipient": "0x00000000000000000000000000000000000b0b0b", "amount": "3" }
        ]}),
    )
    .await
    .unwrap();
    let id = r["ids"][0].as_str().unwrap().to_owned();
    let held = wait_for("the payout held", 20, async || {
        let s = status(&c, &id).await;
        (s["state"] == "held").then_some(s)
    })
    .await;
    assert!(
        held["reason"]
            .as_str()
            .unwrap()
            .contains("paused: incident 42"),
        "{held}"
    );
    let st = c.ops_status().await.unwrap();
    assert_eq!(st.pauses.len(), 2);
    assert_eq!(st.payouts.get("held"), Some(&1));

    // Bad operator input is refused, naming the field, and not audited.
    let (code, data) = call(&c, "ops_pause", pause("chain", "devnet-z", "x"))
        .await
        .unwrap_err();
    assert_eq!((code, data["field"].clone()), (4002, json!("target")));
    let (code, data) = call(&c, "ops_pause", pause("lane", "devnet-b", "x"))
        .await
        .unwrap_err();
    assert_eq!((code, data["field"].clone()), (4001, json!("kind")));
    let (code, data) = call(&c, "ops_pause", pause("route", "devnet-b", "x"))
        .await
        .unwrap_err();
    assert_eq!((code, data["field"].clone()), (4001, json!("target")));

    // Pausing a route: quotes and transfers between those two assets stop.
    call(
        &c,
        "ops_pause",
        pause("route", "devnet-a:TUSD->devnet-c:TUSD", "sanctions review"),
    )
    .await
    .unwrap();
    let q = call(&c, "route_quote", quote.clone()).await.unwrap();
    assert!(q["routes"].as_array().unwrap().is_empty());
    assert!(
        q["paused"]
            .as_str()
            .unwrap()
            .contains("sanctions review (by alice)"),
        "{q}"
    );
    let (code, data) = call(
        &c,
        "transfer_submit",
        json!({"idempotency_key": "t", "from": "devnet-a:TUSD", "to": "devnet-c:TUSD", "amount": "5",
               "recipient": "0x00000000000000000000000000000000000c0c0c"}),
    )
    .await
    .unwrap_err();
    assert_eq!((code, data["field"].clone()), (4005, json!("route")));
    call(
        &c,
        "ops_resume",
        pause("route", "devnet-a:TUSD->devnet-c:TUSD", "cleared"),
    )
    .await
    .unwrap();
    let (code, data) = call(&c, "ops_resume", pause("bridge", "escrow-b-c", "x"))
        .await
        .unwrap_err();
    assert_eq!((code, data["field"].clone()), (4001, json!("target")));

    call(
        &c,
        "ops_resume",
        pause("chain", "devnet-b", "incident 42 resolved"),
    )
    .await
    .unwrap();
    call(
        &c,
        "ops_resume",
        pause("bridge", "escrow-a-b", "rotation done"),
    )
    .await
    .unwrap();
    wait_for("the payout final", 60, async || {
        let s = status(&c, &id).await;
        (s["state"] == "final").then_some(s)
    })
    .await;
    assert_eq!(
        legs(&call(&c, "route_quote", quote).await.unwrap()),
        ["escrow-a-b", "escrow-b-c"]
    );

    let a = c.ops_audit(AuditParams::default()).await.unwrap();
    assert!(a.verified);
    let actions = audit_pairs(&serde_json::to_value(&a).unwrap(), "action", "target");
    assert_eq!(
        actions,
        [
            ("pause".into(), "bridge:escrow-a-b".into()),
            ("pause".into(), "chain:devnet-b".into()),
            ("pause".into(), "route:devnet-a:TUSD->devnet-c:TUSD".into()),
            ("resume".into(), "route:devnet-a:TUSD->devnet-c:TUSD".into()),
            ("resume".into(), "chain:devnet-b".into()),
            ("resume".into(), "bridge:escrow-a-b".into()),
        ]
    );

    // Someone edits the log in the store: the chain no longer verifies,
    // from the edited entry on.
    drop(d);
    let db = rusqlite::Connection::open(net.dir.join("switchyard.db")).unwrap();
    db.execute(
        "UPDATE audit SET reason = 'nothing happened' WHERE seq = 2",
        [],
    )
    .unwrap();
    drop(db);
    let d = Daemon::start(&net, None);
    let a = d.client().ops_audit(AuditParams::default()).await.unwrap();
    assert_eq!((a.verified, a.broken_at), (false, Some(2)));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_governor_queues_payouts_over_a_chain_budget_in_order_and_releases_them_as_the_window_slides()
 {
    let net = Devnet::up("governor");
    let cfg = net.dir.join("switchyard.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(
        "\n[[relayer.governor]]\nchain = \"devnet-b\"\nbudget_usd = \"100\"\nwindow_ms = 8000\nlarge_usd = \"80\"\nlarge_delay_ms = 3000\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let d = Daemon::start(&net, None);
    let c = d.client();
    let item = |n: u64, amount: &str| json!({ "to": "devnet-b:TUSD", "recipient": format!("0x{:040x}", 0x90000 + n), "amount": amount });
    let r = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "gov", "items": [item(1, "60"), item(2, "30"), item(3, "30"), item(4, "90")] }),
    )
    .await
    .unwrap();
    let ids: Vec<String> = serde_json::from_value(r["ids"].clone()).unwrap();

    // 60 + 30 fit the 100 budget; the third waits for headroom, the large
    // one behind it.
    let third = wait_for("the third payout held", 20, async || {
        let s = status(&c, &ids[2]).await;
        (s["state"] == "held").then_some(s)
    })
    .await;
    assert!(
        third["reason"]
            .as_str()
            .unwrap()
            .contains("governor: chain budget"),
        "{third}"
    );
    let fourth = status(&c, &ids[3]).await;
    assert_eq!(fourth["state"], "held");
    assert!(
        fourth["reason"].as_str().unwrap().contains("queued behind"),
        "{fourth}"
    );
    for id in &ids[..2] {
        wait_for("the first two final", 60, async || {
            let s = status(&c, id).await;
            (s["state"] == "final").then_some(s)
        })
        .await;
    }
    // The quote says a route to devnet-b would wait now.
    let q = call(
        &c,
        "route_quote",
        json!({"from": "devnet-a:TUSD", "to": "devnet-b:TUSD", "amount": "50", "mode": "cheapest"}),
    )
    .await
    .unwrap();
    assert_eq!(q["routes"][0]["governor"]["delayed"], true, "{q}");
    assert!(q["routes"][0]["governor"]["until_ms"].as_u64().is_some());
    // The wait is part of the ETA, on the leg that pays out, and says so.
    let r = &q["routes"][0];
    let wait = r["governor"]["wait_s"].as_u64().unwrap();
    assert!(wait > 0, "{q}");
    let legs = r["legs"].as_array().unwrap();
    let sum: u64 = legs.iter().map(|l| l["eta_s"].as_u64().unwrap()).sum();
    assert_eq!(r["eta_s"].as_u64().unwrap(), sum, "{q}");
    let last = legs.last().unwrap();
    let waits = wait + last["finality_wait_s"].as_u64().unwrap();
    assert!(
        last["eta_s"].as_u64().unwrap() > waits,
        "the bridge's own ETA is in it too: {q}"
    );
    assert!(
        last["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("governor: ")
            && n.as_str().unwrap().ends_with(&format!("(+{wait} s)"))),
        "{q}"
    );

    // The window slides: the third goes before the fourth (FIFO), and the
    // fourth only once its own headroom is there.
    let third_final = wait_for("the third final", 60, async || {
        let s = status(&c, &ids[2]).await;
        (s["state"] == "final").then_some(s)
    })
    .await;
    let fourth_then = status(&c, &ids[3]).await;
    assert_ne!(
        fourth_then["state"], "final",
        "FIFO: the large one is not ahead"
    );
    let fourth_final = wait_for("the fourth final", 60, async || {
        let s = status(&c, &ids[3]).await;
        (s["state"] == "final").then_some(s)
    })
    .await;
    assert!(fourth_final["block"].as_u64() > third_final["block"].as_u64());
    for (i, amount) in ["60", "30", "30", "90"].iter().enumerate() {
        let got = net
            .balance("devnet-b", &format!("0x{:040x}", 0x90001 + i as u64))
            .await;
        assert_eq!(
            got,
            switchyard_core::U256::from(amount.parse::<u64>().unwrap() * 1_000_000)
        );
    }
}
