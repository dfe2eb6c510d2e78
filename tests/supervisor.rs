//! The supervisor on the real daemon: a lane task that panics right after
//! it broadcast a payout batch is reported in `/health` and the metrics,
//! restarted, and resumes from the store: every payout is paid once. The
//! calls go through the generated API client.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, Devnet, amount};
use serde_json::Value;
use switchyard_api::PayoutApiClient;
use switchyard_api::payout::{ItemParams, ListParams, PayoutView, SubmitParams};

async fn all_final(c: &jsonrpsee::http_client::HttpClient, n: usize) -> Vec<PayoutView> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let page = c
            .payout_list(ListParams {
                limit: Some(1000),
                ..ListParams::default()
            })
            .await
            .expect("payout_list");
        let done = page.items.iter().filter(|p| p.state == "final").count();
        assert!(
            page.items.iter().all(|p| p.state != "failed"),
            "a payout failed: {:?}",
            page.items
        );
        if done == n {
            return page.items;
        }
        assert!(Instant::now() < deadline, "not final: {:?}", page.items);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lane_task_that_panics_is_reported_restarted_and_pays_every_payout_once() {
    let net = Devnet::up("supervisor");
    let d = Daemon::start_env(&net, None, &[("SWITCHYARD_PANIC_AT", "lane:devnet-a:sent")]);
    let c = d.client();
    let items: Vec<ItemParams> = (0..6u64)
        .map(|i| ItemParams {
            to: "devnet-a:TUSD".into(),
            recipient: format!("0x{:040x}", 0x5u64 << 40 | (i + 1)),
            amount: format!("{}.25", i + 1),
            memo: Some(format!("supervised {i}")),
        })
        .collect();
    let submitted = c
        .payout_submit(SubmitParams {
            idempotency_key: "supervisor-1".into(),
            items,
            source: None,
            mode: None,
        })
        .await
        .expect("payout_submit");
    assert!(submitted.created);
    assert_eq!(submitted.ids.len(), 6);

    // The panic is seen: the lane's task restarted once, with the reason.
    let deadline = Instant::now() + Duration::from_secs(60);
    let health: Value = loop {
        let (status, body) = d.get("/health");
        assert_eq!(status, 200);
        let h: Value = serde_json::from_str(&body).unwrap();
        if h["tasks"]["lane:devnet-a"]["restarts"].as_u64() >= Some(1) {
            break h;
        }
        assert!(Instant::now() < deadline, "no restart reported: {h:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let lane = &health["tasks"]["lane:devnet-a"];
    assert!(
        lane["last_error"]
            .as_str()
            .unwrap()
            .contains("panicked: panic drill: lane:devnet-a at sent"),
        "{lane}"
    );
    assert!(lane["last_failure_ms"].as_u64().is_some(), "{lane}");
    // Other tasks never failed.
    for task in [
        "lane:devnet-b",
        "payout-batcher",
        "transfer-executor",
        "api-server",
    ] {
        assert_eq!(health["tasks"][task]["restarts"], 0, "{task}: {health:#}");
        assert_eq!(
            health["tasks"][task]["state"], "running",
            "{task}: {health:#}"
        );
    }

    // The lane resumes from the store: every payout final, each recipient
    // holding exactly its amount (paid once).
    let paid = all_final(&c, 6).await;
    for p in &paid {
        let got = net.balance("devnet-a", &p.recipient).await;
        assert_eq!(
            got,
            amount(&Value::String(p.amount_base.clone())),
            "{}",
            p.id
        );
    }
    let (_, h) = d.get("/health");
    let h: Value = serde_json::from_str(&h).unwrap();
    assert_eq!(h["tasks"]["lane:devnet-a"]["state"], "running", "{h:#}");
    assert_eq!(h["tasks"]["lane:devnet-a"]["restarts"], 1, "{h:#}");
    let (_, metrics) = d.get("/metrics");
    assert!(
        metrics.contains("switchyard_task_restarts{task=\"lane:devnet-a\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchyard_task_up{task=\"lane:devnet-a\"} 1"),
        "{metrics}"
    );
}
