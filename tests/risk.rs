//! Risk controls at intake on the real daemon and devnet: the deny list
//! (refused, typed, audited, nothing stored, reloaded without a restart)
//! and the first-payout delay for an address never paid before.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, Devnet, call, payout_in};
use serde_json::json;

const DENIED: &str = "0x00000000000000000000000000000000000dead1";
const ANYWHERE: &str = "0x00000000000000000000000000000000000dead2";

#[tokio::test(flavor = "multi_thread")]
async fn a_deny_listed_recipient_is_refused_at_intake_audited_and_nothing_is_stored() {
    let net = Devnet::up("risk-deny");
    let deny = net.dir.join("deny.txt");
    std::fs::write(&deny, format!("devnet-b {DENIED}\n* {ANYWHERE}\n")).unwrap();
    let d = Daemon::start(&net, None);
    let c = d.client();
    let item = |to: &str, who: &str| json!({ "to": to, "recipient": who, "amount": "1" });

    let (code, data) = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "deny-1", "items": [
            item("devnet-b:TUSD", "0x00000000000000000000000000000000000000f1"),
            item("devnet-b:TUSD", DENIED),
        ]}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (code, data["field"].as_str()),
        (4023, Some("items[1].recipient"))
    );
    assert_eq!(data["chain"], "devnet-b");
    // Per chain: the same address elsewhere is fine; `*` is everywhere.
    let (code, _) = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "deny-2", "items": [item("devnet-c:TUSD", ANYWHERE)] }),
    )
    .await
    .unwrap_err();
    assert_eq!(code, 4023);
    let (code, data) = call(
        &c,
        "transfer_submit",
        json!({ "idempotency_key": "deny-3", "from": "devnet-a:TUSD", "to": "devnet-b:TUSD",
                "amount": "5", "recipient": DENIED }),
    )
    .await
    .unwrap_err();
    assert_eq!((code, data["field"].as_str()), (4023, Some("recipient")));
    // Nothing of the refused request was stored: its key is still free.
    let ok = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "deny-1", "items": [item("devnet-c:TUSD", DENIED)] }),
    )
    .await
    .unwrap();
    assert_eq!(ok["created"], true);
    // Each refusal is in the audit log.
    let audit = call(&c, "ops_audit", json!({ "limit": 100 }))
        .await
        .unwrap();
    let refused: Vec<String> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "deny_refused")
        .map(|e| e["target"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(
        refused,
        vec![
            format!("devnet-b:{DENIED}"),
            format!("devnet-c:{ANYWHERE}"),
            format!("devnet-b:{DENIED}")
        ],
        "{audit}"
    );
    // Off the list (no restart): accepted and paid.
    std::fs::write(&deny, "# cleared\n").unwrap();
    let r = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "deny-4", "items": [item("devnet-b:TUSD", DENIED)] }),
    )
    .await
    .unwrap();
    payout_in(&c, r["ids"][0].as_str().unwrap(), "final").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_payout_to_a_new_address_waits_and_later_ones_do_not() {
    let net = Devnet::up("risk-first");
    net.edit_config(|c| c.replace("[relayer]\n", "[relayer]\nfirst_payout_delay_ms = 5000\n"));
    let d = Daemon::start(&net, None);
    let c = d.client();
    let who = "0x00000000000000000000000000000000000f1257";
    let submit = async |key: &str| {
        let r = call(
            &c,
            "payout_submit",
            json!({ "idempotency_key": key, "items": [{ "to": "devnet-b:TUSD", "recipient": who, "amount": "3" }] }),
        )
        .await
        .unwrap();
        r["ids"][0].as_str().unwrap().to_owned()
    };
    let started = Instant::now();
    let first = submit("first").await;
    let held = payout_in(&c, &first, "held").await;
    assert!(
        held["reason"]
            .as_str()
            .unwrap()
            .contains("first payout to this address"),
        "{held}"
    );
    payout_in(&c, &first, "final").await;
    assert!(started.elapsed() >= Duration::from_secs(5));
    // Paid before: the next one does not wait.
    let second = submit("second").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = call(&c, "payout_status", json!({ "id": second }))
            .await
            .unwrap();
        assert!(
            !s["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("first payout"),
            "{s}"
        );
        if s["state"] == "final" {
            break;
        }
        assert!(Instant::now() < deadline, "{s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
