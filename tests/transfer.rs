//! End to end on three local chains: `switchyard devnet up` starts them
//! and deploys the contracts, `switchyard serve` executes a transfer the
//! router chose, and the balances on chain show exactly what moved. The
//! daemon is SIGKILLed between signing and broadcast, and between
//! broadcast and confirmation: after each restart nothing is lost and
//! nothing is paid twice.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, Devnet, amount, call};
use jsonrpsee::http_client::HttpClient;
use serde_json::{Value, json};
use switchyard_api::quote::QuoteParams;
use switchyard_api::transfer::StatusParams;
use switchyard_api::{QuoteApiClient, TransferApiClient};
use switchyard_core::U256;

const RECIPIENT: &str = "0x00000000000000000000000000000000c0ffee00";

async fn wait_done(c: &HttpClient, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let t = c
            .transfer_status(StatusParams {
                transfer_id: id.into(),
            })
            .await
            .unwrap();
        let t = serde_json::to_value(t).unwrap();
        match t["state"].as_str().unwrap() {
            "done" => return t,
            "failed" => panic!("transfer failed: {t:#}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "transfer not done: {t:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
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
    let quote = async |mode: &str| {
        c.route_quote(QuoteParams {
            from: "devnet-a:TUSD".into(),
            to: "devnet-c:TUSD".into(),
            amount: "250".into(),
            mode: Some(mode.into()),
            ..QuoteParams::default()
        })
        .await
        .unwrap()
    };
    let q = quote("cheapest").await;
    let legs: Vec<&str> = q.routes[0]
        .route
        .legs
        .iter()
        .map(|l| l.bridge.as_str())
        .collect();
    assert_eq!(legs, ["escrow-a-b", "escrow-b-c"]);
    let fast = quote("fastest").await;
    assert_eq!(fast.routes[0].route.legs[0].bridge, "escrow-a-c");

    let relayer = net.treasury();
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
    let quoted =
        switchyard_core::Amount::parse_decimal("amount_out", &q.routes[0].route.amount_out, 6)
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
    let relayer = net.treasury();
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
