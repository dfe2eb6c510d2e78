//! Roles and API keys on the real daemon: every refusal is typed, a
//! merchant sees and cancels only its own payouts, keys are created and
//! revoked by an admin, and each key has a rate limit.

mod common;

use std::time::Duration;

use common::{Daemon, Devnet, audit_pairs, call, payout_in};
use jsonrpsee::http_client::HttpClient;
use serde_json::{Value, json};
use switchyard_api::keys::{KeyCreateParams, KeyRevokeParams};
use switchyard_api::ops::{ApproveParams, AuditParams, PauseParams};
use switchyard_api::payout::ListParams;
use switchyard_api::{KeysApiClient, OpsApiClient, PayoutApiClient};

fn token(net: &Devnet, who: &str) -> String {
    let keys: Value =
        serde_json::from_str(&std::fs::read_to_string(net.dir.join("keys.json")).unwrap()).unwrap();
    keys[who]["token"].as_str().unwrap().to_owned()
}

async fn code(c: &HttpClient, method: &str, params: Value) -> i32 {
    match call(c, method, params).await {
        Ok(v) => panic!("{method} accepted: {v}"),
        Err((code, _)) => code,
    }
}

fn payout(key: &str) -> Value {
    json!({ "idempotency_key": key, "items": [
        { "to": "devnet-a:TUSD", "recipient": "0x00000000000000000000000000000000000acce5", "amount": "1" }
    ]})
}

#[tokio::test(flavor = "multi_thread")]
async fn every_role_is_held_to_its_methods_and_merchants_to_their_own_payouts() {
    let net = Devnet::up_with("auth", &["--auth"]);
    // The keys are in DIR/keys.json (mode 0600); stdout shows each only by
    // its role prefix and four characters.
    for who in ["root", "olivia", "oscar", "acme", "globex", "wally"] {
        let t = token(&net, who);
        assert!(
            !net.said.contains(&t),
            "{who}'s key printed in full:\n{}",
            net.said
        );
        assert!(
            net.said
                .contains(&format!("{}…", &t[..t.rfind('_').unwrap() + 5])),
            "{}",
            net.said
        );
    }
    assert!(net.said.contains("keys.json"), "{}", net.said);
    let d = Daemon::start(&net, None);
    let anonymous = d.client();
    let [root, olivia, acme, globex, wally] =
        ["root", "olivia", "acme", "globex", "wally"].map(|w| d.client_as(&token(&net, w)));
    let quote = json!({"from": "devnet-a:TUSD", "to": "devnet-b:TUSD", "amount": "5"});
    let pause = json!({"kind": "bridge", "target": "escrow-a-b", "reason": "test"});

    // No key, or a made-up one: 4011 everywhere but rpc.discover.
    assert_eq!(code(&anonymous, "route_quote", quote.clone()).await, 4011);
    let forged = d.client_as("sy_admin_0000");
    assert_eq!(code(&forged, "ops_status", json!({})).await, 4011);

    // A wallet quotes and does nothing else.
    call(&wally, "route_quote", quote.clone()).await.unwrap();
    assert_eq!(code(&wally, "payout_submit", payout("w")).await, 4031);
    assert_eq!(code(&wally, "ops_pause", pause.clone()).await, 4031);
    assert_eq!(
        code(&wally, "transfer_status", json!({"transfer_id": "tr_x"})).await,
        4031
    );

    // Merchants: their own payouts only; another's reads as unknown.
    let mine = call(&acme, "payout_submit", payout("order-1"))
        .await
        .unwrap();
    let id = mine["ids"][0].as_str().unwrap().to_owned();
    // The same idempotency key from another merchant is another request.
    let theirs = call(&globex, "payout_submit", payout("order-1"))
        .await
        .unwrap();
    assert_eq!(theirs["created"], true);
    assert_ne!(theirs["ids"][0], mine["ids"][0]);
    assert_eq!(
        code(&globex, "payout_status", json!({"id": id})).await,
        4002
    );
    assert_eq!(
        code(&globex, "payout_cancel", json!({"id": id})).await,
        4002
    );
    let listed = call(&globex, "payout_list", json!({})).await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["owner"], "globex");
    let s = call(&acme, "payout_status", json!({"id": id}))
        .await
        .unwrap();
    assert_eq!(
        (s["owner"].clone(), s["idempotency_key"].clone()),
        (json!("acme"), json!("order-1"))
    );
    assert_eq!(code(&acme, "ops_pause", pause.clone()).await, 4031);
    assert_eq!(code(&acme, "keys_list", json!({})).await, 4031);

    // An operator sees everyone's payouts and pauses, under its own name.
    let all = olivia.payout_list(ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 2);
    let r = olivia
        .ops_pause(PauseParams {
            kind: "bridge".into(),
            target: "escrow-a-b".into(),
            reason: "test".into(),
            actor: None,
        })
        .await
        .unwrap();
    assert_eq!(r.audit.actor, "olivia");
    assert_eq!(
        code(
            &olivia,
            "keys_create",
            json!({"role": "admin", "name": "eve"})
        )
        .await,
        4031
    );

    // An admin makes and revokes keys; a revoked key stops working.
    let k = root
        .keys_create(KeyCreateParams {
            role: "wallet".into(),
            name: "temp".into(),
            rate_per_s: Some(3),
        })
        .await
        .unwrap();
    let temp = d.client_as(&k.token);
    call(&temp, "route_quote", quote.clone()).await.unwrap();
    // Its rate: 3 per second, then 4029 with a retry hint.
    let mut limited = None;
    for _ in 0..10 {
        if let Err((c, data)) = call(&temp, "route_quote", quote.clone()).await {
            limited = Some((c, data));
            break;
        }
    }
    let (c, data) = limited.expect("the rate limit never applied");
    assert_eq!(c, 4029);
    assert!(data["retry_after_ms"].as_u64().unwrap() > 0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    call(&temp, "route_quote", quote.clone()).await.unwrap();
    root.keys_revoke(KeyRevokeParams {
        id: k.key.id.clone(),
    })
    .await
    .unwrap();
    assert_eq!(code(&temp, "route_quote", quote.clone()).await, 4011);
    let keys = root.keys_list().await.unwrap();
    assert!(
        !serde_json::to_string(&keys).unwrap().contains("sy_"),
        "tokens are never listed"
    );
    assert!(
        keys.keys
            .iter()
            .any(|key| key.id == k.key.id && key.revoked_ms.is_some())
    );

    // The audit log has the devnet's six keys, the operator's pause and
    // the admin's key changes.
    let a = root.ops_audit(AuditParams::default()).await.unwrap();
    assert!(a.verified);
    let actions = audit_pairs(&serde_json::to_value(&a).unwrap(), "actor", "action");
    let mut want: Vec<(String, String)> = vec![("devnet".into(), "key_create".into()); 6];
    want.extend([
        ("olivia".into(), "pause".into()),
        ("root".into(), "key_create".into()),
        ("root".into(), "key_revoke".into()),
    ]);
    assert_eq!(actions, want);
    // Refusals are counted per method and code.
    let (_, metrics) = d.get("/metrics");
    assert!(
        metrics.contains("switchyard_rpc_calls_total{method=\"payout_submit\",outcome=\"4031\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn large_payouts_wait_for_one_or_two_distinct_operators_and_can_be_rejected() {
    let net = Devnet::up_with("approvals", &["--auth"]);
    let d = Daemon::start(&net, None);
    let [olivia, oscar, acme] = ["olivia", "oscar", "acme"].map(|w| d.client_as(&token(&net, w)));
    let item = |n: u64, amount: &str| json!({ "to": "devnet-b:TUSD", "recipient": format!("0x{:040x}", 0xa9900 + n), "amount": amount });
    let r = call(
        &acme,
        "payout_submit",
        json!({ "idempotency_key": "big-ones", "items": [
            item(1, "50"), item(2, "150"), item(3, "600"), item(4, "200")
        ]}),
    )
    .await
    .unwrap();
    let ids: Vec<String> = serde_json::from_value(r["ids"].clone()).unwrap();
    let state = async |id: &str| {
        call(&acme, "payout_status", json!({ "id": id }))
            .await
            .unwrap()
    };
    let until = async |id: &str, want: &str| payout_in(&acme, id, want).await;

    until(&ids[0], "final").await;
    let held = until(&ids[1], "held").await;
    assert!(
        held["reason"].as_str().unwrap().contains("0 of 1"),
        "{held}"
    );
    let held = until(&ids[2], "held").await;
    assert!(
        held["reason"].as_str().unwrap().contains("0 of 2"),
        "{held}"
    );

    // A merchant cannot approve its own payouts.
    assert_eq!(
        code(&acme, "ops_approve", json!({ "id": ids[1] })).await,
        4031
    );

    // One operator suffices below 500.
    let approve = async |who: &HttpClient, id: &str| {
        who.ops_approve(ApproveParams { id: id.into() })
            .await
            .unwrap()
    };
    let a = approve(&olivia, &ids[1]).await;
    assert_eq!((a.approvals, a.needed), (1, 1));
    until(&ids[1], "final").await;

    // From 500: two distinct operators; the same one twice counts once.
    approve(&olivia, &ids[2]).await;
    let again = approve(&olivia, &ids[2]).await;
    assert_eq!(again.approvals, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s = state(&ids[2]).await;
    assert_eq!(s["state"], "held");
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .contains("1 of 2 distinct operators (olivia)"),
        "{s}"
    );
    let both = approve(&oscar, &ids[2]).await;
    assert_eq!(both.approvals, 2);
    until(&ids[2], "final").await;

    // Rejected: failed with the reason, never paid.
    call(
        &oscar,
        "ops_reject",
        json!({ "id": ids[3], "reason": "recipient failed screening" }),
    )
    .await
    .unwrap();
    let s = until(&ids[3], "failed").await;
    assert_eq!(s["reason"], "rejected by oscar: recipient failed screening");
    assert_eq!(
        net.balance("devnet-b", &format!("0x{:040x}", 0xa9904))
            .await,
        switchyard_core::U256::ZERO
    );
    assert_eq!(
        code(&oscar, "ops_approve", json!({ "id": ids[3] })).await,
        4001
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_transfer_takes_two_operators_and_split_payouts_hit_the_same_tier() {
    let net = Devnet::up_with("two-operators", &["--auth"]);
    net.edit_config(|c| {
        c.replace(
            "dual_usd = \"500\"",
            "dual_usd = \"500\"\ntransfer_dual_usd = \"1000\"",
        )
    });
    let d = Daemon::start(&net, None);
    let [olivia, oscar, acme] = ["olivia", "oscar", "acme"].map(|w| d.client_as(&token(&net, w)));
    let recipient = "0x00000000000000000000000000000000000b1900";
    let transfer = |key: &str, amount: &str| {
        json!({ "idempotency_key": key, "from": "devnet-a:TUSD", "to": "devnet-b:TUSD",
                "amount": amount, "recipient": recipient })
    };
    let state = async |id: &str| {
        call(&olivia, "transfer_status", json!({ "transfer_id": id }))
            .await
            .unwrap()["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // 2,000 USD of the relayer's funds: it waits for a second operator.
    let big = call(&olivia, "transfer_submit", transfer("big", "2000"))
        .await
        .unwrap();
    let id = big["transfer"]["id"].as_str().unwrap().to_owned();
    assert_eq!(big["transfer"]["state"], "awaiting_approval");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(state(&id).await, "awaiting_approval");
    assert_eq!(
        net.balance("devnet-b", recipient).await,
        switchyard_core::U256::ZERO
    );
    // Not by the operator who submitted it.
    let (c, data) = call(&olivia, "ops_approve", json!({ "id": id }))
        .await
        .unwrap_err();
    assert_eq!(c, 4001);
    assert!(data.to_string().contains("second operator"), "{data}");
    let a = oscar
        .ops_approve(ApproveParams { id: id.clone() })
        .await
        .unwrap();
    assert_eq!(a.audit.action, "transfer_approve");
    assert_eq!(a.audit.actor, "oscar");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while state(&id).await != "done" {
        assert!(std::time::Instant::now() < deadline, "never done");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(net.balance("devnet-b", recipient).await > switchyard_core::U256::ZERO);
    // A small one runs at once.
    let small = call(&olivia, "transfer_submit", transfer("small", "10"))
        .await
        .unwrap();
    assert_eq!(small["transfer"]["state"], "pending");

    // A 600 USD payout split into six 100 USD items to one recipient:
    // the first needs one operator, the last (600 to that recipient) two.
    let item = json!({ "to": "devnet-b:TUSD", "recipient": "0x00000000000000000000000000000000005b1700", "amount": "100" });
    let r = call(
        &acme,
        "payout_submit",
        json!({ "idempotency_key": "split", "items": vec![item; 6] }),
    )
    .await
    .unwrap();
    let ids: Vec<String> = serde_json::from_value(r["ids"].clone()).unwrap();
    let first = payout_in(&acme, &ids[0], "held").await;
    assert!(
        first["reason"].as_str().unwrap().contains("0 of 1"),
        "{first}"
    );
    let last = payout_in(&acme, &ids[5], "held").await;
    assert!(
        last["reason"].as_str().unwrap().contains("0 of 2"),
        "{last}"
    );
}
