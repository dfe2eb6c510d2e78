//! What the network does feeds the quote, on the devnet: a bridge whose
//! hops are slow and sometimes fail loses the fastest, safest and weighted
//! picks once its observations say so, the quote shows the priors beside
//! the observations, a restart keeps them, and when the window forgets
//! them the picks come back. Larger amounts wait for their finality tier.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, Devnet, call, wait_for};
use jsonrpsee::http_client::HttpClient;
use serde_json::{Value, json};
use switchyard_api::TransferApiClient;
use switchyard_api::transfer::{StatusParams, TransferParams};
use switchyard_chains::evm::contracts::mint_call;

const RECIPIENT: &str = "0x00000000000000000000000000000000c0ffee15";
const SINK: &str = "0x000000000000000000000000000000000000dEaD";
/// The observation window the test's daemon runs with.
const WINDOW_MS: u64 = 60_000;

async fn quote(c: &HttpClient, amount: &str, mode: &str) -> Value {
    call(
        c,
        "route_quote",
        json!({"from": "devnet-a:TUSD", "to": "devnet-c:TUSD", "amount": amount, "mode": mode}),
    )
    .await
    .unwrap()
}

/// The bridges of the first route of each of cheapest, fastest, safest
/// and weighted.
async fn picks(c: &HttpClient) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for mode in ["cheapest", "fastest", "safest", "weighted"] {
        let q = quote(c, "5", mode).await;
        out.push(
            q["routes"][0]["legs"]
                .as_array()
                .unwrap_or(&Vec::new())
                .iter()
                .map(|l| l["bridge"].as_str().unwrap_or("").to_owned())
                .collect(),
        );
    }
    out
}

/// The `escrow-a-c` leg of the pareto answer.
async fn direct_leg(c: &HttpClient) -> Value {
    let q = quote(c, "5", "pareto").await;
    q["routes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["legs"].as_array().unwrap().clone())
        .find(|l| l["bridge"] == "escrow-a-c")
        .unwrap_or_else(|| panic!("no route through escrow-a-c: {q:#}"))
}

async fn status(c: &HttpClient, id: &str) -> Value {
    serde_json::to_value(
        c.transfer_status(StatusParams {
            transfer_id: id.into(),
        })
        .await
        .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_limping_bridge_loses_the_picks_to_its_observations_and_wins_them_back() {
    let net = Devnet::up_with("health", &["--refund-delay-s", "5"]);
    // A short window so that the test sees it forget; breakers that do not
    // trip on two failures (the estimates, not the breaker, move the picks).
    net.edit_config(|t| {
        t.replace("consecutive_failures = 3", "consecutive_failures = 50")
            + &format!(
                "\n[model.health]\nwindow_ms = {WINDOW_MS}\nprior_weight = 4\nmin_latency_samples = 3\n"
            )
    });
    let daemon = Daemon::start(&net, None);
    let c = daemon.client();
    let direct = vec!["escrow-a-c".to_owned()];
    let detour = vec!["escrow-a-b".to_owned(), "escrow-b-c".to_owned()];

    // A large amount waits for the tiers of both ends of the same route:
    // on devnet-a 4 blocks instead of 2 at 1 s a block before the release,
    // on devnet-c 12 instead of 6 at 0.25 s after it.
    let small = quote(&c, "50", "fastest").await;
    let large = quote(&c, "50000", "fastest").await;
    assert_eq!(
        small["routes"][0]["legs"][0]["bridge"], "escrow-a-c",
        "{small:#}"
    );
    assert_eq!(
        large["routes"][0]["legs"][0]["bridge"], "escrow-a-c",
        "{large:#}"
    );
    let eta = |q: &Value| q["routes"][0]["eta_s"].as_u64().unwrap();
    assert_eq!(eta(&large), eta(&small) + 2 + 2, "{small:#}\n{large:#}");
    let leg = &large["routes"][0]["legs"][0];
    assert_eq!(leg["finality_wait_s"], 4);
    assert_eq!(
        leg["notes"],
        json!([
            "finality: 4 blocks for amounts from $10,000 on devnet-a (deposit: +2 blocks x 1000 ms = 2 s over its base 2 blocks)",
            "finality: 12 blocks for amounts from $10,000 on devnet-c (release: +6 blocks x 250 ms = 2 s over its base 6 blocks)"
        ])
    );

    // Healthy: the direct bridge is cheapest, fastest and safest for 5 TUSD.
    assert_eq!(picks(&c).await, vec![direct.clone(); 4]);
    let leg = direct_leg(&c).await;
    assert_eq!(leg["health"]["eta_basis"], "prior", "{leg:#}");
    assert!(leg["health"].get("observed").is_none(), "{leg:#}");

    // The bridge limps: six transfers take it, devnet-c's escrow runs dry
    // under them, two are given up (refunded), the other four wait ~40 s.
    let started = Instant::now();
    let mut ids = Vec::new();
    for k in 0..6 {
        let t = c
            .transfer_submit(TransferParams {
                idempotency_key: format!("limp-{k}"),
                from: "devnet-a:TUSD".into(),
                to: "devnet-c:TUSD".into(),
                amount: "5".into(),
                recipient: RECIPIENT.into(),
                mode: Some("fastest".into()),
                max_hops: None,
            })
            .await
            .unwrap()
            .transfer;
        assert_eq!(t.hops.len(), 1);
        assert_eq!(t.hops[0].plan.bridge, "escrow-a-c");
        ids.push(t.id);
    }
    let drained = net.drain_escrow("devnet-c", SINK.parse().unwrap()).await;
    for id in &ids {
        wait_for("every hop waiting for liquidity", 60, async || {
            let t = status(&c, id).await;
            assert_ne!(
                t["state"], "done",
                "released before the escrow ran dry: {t:#}"
            );
            let note = t["hops"][0]["note"].as_str().unwrap_or("").to_owned();
            note.contains("holds").then_some(t)
        })
        .await;
    }
    for id in &ids[..2] {
        let r = call(
            &c,
            "transfer_refund",
            json!({ "id": id, "reason": "test: bridge limping" }),
        )
        .await
        .unwrap();
        assert_eq!(r["audit"]["action"], "transfer_refund");
    }
    let hold = Duration::from_secs(40).saturating_sub(started.elapsed());
    tokio::time::sleep(hold).await;
    let escrow = net.addr("devnet-c", "escrow");
    net.send(
        "devnet-c",
        net.addr("devnet-c", "token"),
        mint_call(escrow, drained),
    )
    .await;
    for (k, id) in ids.iter().enumerate() {
        let want = if k < 2 { "failed" } else { "done" };
        wait_for(&format!("transfer {k} {want}"), 120, async || {
            let t = status(&c, id).await;
            (t["state"] == want).then_some(t)
        })
        .await;
    }

    // The quote now shows what happened next to the priors...
    let leg = wait_for("the observations in the quote", 10, async || {
        let leg = direct_leg(&c).await;
        (leg["health"]["observed"]["attempts"] == 6).then_some(leg)
    })
    .await;
    println!("the limping leg: {leg}");
    let h = &leg["health"];
    assert_eq!(h["observed"]["successes"], 4, "{leg:#}");
    assert_eq!(h["observed"]["latency_samples"], 4, "{leg:#}");
    assert_eq!(
        (h["prior_eta_s"].clone(), h["prior_success_p"].clone()),
        (json!(8), json!(0.999))
    );
    assert_eq!(
        (h["eta_basis"].clone(), h["success_basis"].clone()),
        (json!("observed"), json!("observed"))
    );
    let p50 = h["observed"]["latency_p50_s"].as_u64().unwrap();
    assert!(p50 >= 35, "the hops waited about 40 s: {leg:#}");
    assert_eq!(leg["eta_s"].as_u64().unwrap(), p50, "{leg:#}");
    // Beta prior worth 4 observations at 0.999, then 4 of 6.
    let p = leg["success_p"].as_f64().unwrap();
    assert!((p - (4.0 * 0.999 + 4.0) / 10.0).abs() < 1e-6, "{leg:#}");
    assert!(
        leg["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("observed: 4 of 6 hops released"),
        "{leg:#}"
    );
    // ...and the picks that weigh time or risk moved off the bridge; the
    // cheapest, ranked by fee alone, stays.
    assert_eq!(
        picks(&c).await,
        vec![
            direct.clone(),
            detour.clone(),
            detour.clone(),
            detour.clone()
        ]
    );

    // A restart keeps them: they are in the store.
    drop(daemon);
    let daemon = Daemon::start(&net, None);
    let c = daemon.client();
    wait_for("the observations back after a restart", 10, async || {
        let leg = direct_leg(&c).await;
        (leg["health"]["observed"]["attempts"] == 6).then_some(leg)
    })
    .await;
    assert_eq!(
        picks(&c).await[1],
        detour,
        "still off the bridge after the restart"
    );

    // The window forgets: back to the priors, and the picks come back.
    wait_for("the window to forget", WINDOW_MS / 1000 + 90, async || {
        let leg = direct_leg(&c).await;
        leg["health"].get("observed").is_none().then_some(leg)
    })
    .await;
    assert_eq!(picks(&c).await, vec![direct; 4]);
}
