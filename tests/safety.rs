//! Money safety end to end, on three local chains with the real daemon:
//! a node that cannot answer is never taken for a revert, a release waits
//! for liquidity instead of stranding a deposit, a stranded deposit is
//! refunded only after its release is cancelled on chain, a kill right
//! after an operator action or a failed hop leaves a consistent store, a
//! second daemon on the same store or key is stopped, and reads fail over
//! from bad endpoints without paying twice.

mod common;

use std::time::Duration;

use common::{Daemon, Devnet, amount, audit_pairs, call, fire, payout_in, wait_for};
use jsonrpsee::http_client::HttpClient;
use serde_json::{Value, json};
use switchyard_api::TransferApiClient;
use switchyard_api::transfer::{StatusParams, TransferParams};
use switchyard_chains::evm::contracts::{blacklist_call, mint_call};
use switchyard_chains::rpc_proxy::{Action, RpcProxy};
use switchyard_core::U256;

const RECIPIENT: &str = "0x00000000000000000000000000000000c0ffee09";
const SINK: &str = "0x000000000000000000000000000000000000dEaD";

fn transfer(key: &str, to: &str, amount: &str) -> TransferParams {
    TransferParams {
        idempotency_key: key.into(),
        from: "devnet-a:TUSD".into(),
        to: to.into(),
        amount: amount.into(),
        recipient: RECIPIENT.into(),
        mode: Some("cheapest".into()),
        max_hops: None,
    }
}

/// Submits a transfer (through the generated client) and returns its id.
async fn submit_transfer(c: &HttpClient, params: TransferParams) -> String {
    c.transfer_submit(params).await.unwrap().transfer.id
}

/// The transfer as it stands, as the wire shows it.
async fn status(c: &HttpClient, id: &str) -> Value {
    let t = c
        .transfer_status(StatusParams {
            transfer_id: id.into(),
        })
        .await
        .unwrap();
    serde_json::to_value(t).unwrap()
}

async fn transfer_in(c: &HttpClient, id: &str, state: &str, secs: u64) -> Value {
    wait_for(&format!("transfer {id} {state}"), secs, async || {
        let t = status(c, id).await;
        if state != "failed" && t["state"] == "failed" {
            panic!("transfer failed: {t:#}");
        }
        (t["state"] == state).then_some(t)
    })
    .await
}

fn url_of(net: &Devnet, chain: &str) -> String {
    net.info_of(chain)["rpc_url"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_cannot_answer_a_deposits_simulation_is_asked_again_not_taken_for_a_revert() {
    let net = Devnet::up("transient");
    let a = url_of(&net, "devnet-a");
    // The first six gas estimates on chain A fail the way a node behind a
    // load balancer fails: "header not found".
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let s = std::sync::Arc::clone(&seen);
    let proxy = RpcProxy::with_rule(
        &a,
        Box::new(move |method, _| {
            if method == "eth_estimateGas"
                && s.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 6
            {
                Action::Error(-32000, "header not found".into())
            } else {
                Action::Forward
            }
        }),
    );
    net.edit_topology(|t| t.replace(&format!("\"{a}\""), &format!("\"{}\"", proxy.url)));
    let daemon = Daemon::start(&net, None);
    let c = daemon.client();
    let id = submit_transfer(&c, transfer("transient", "devnet-b:TUSD", "40")).await;
    let done = transfer_in(&c, &id, "done", 120).await;
    assert!(
        seen.load(std::sync::atomic::Ordering::SeqCst) >= 6,
        "the failures happened"
    );
    let out = amount(&done["hops"][0]["amount_out"]);
    assert_eq!(net.balance("devnet-b", RECIPIENT).await, out, "paid once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_waits_while_the_destination_escrow_is_short_and_pays_once_when_refilled() {
    let net = Devnet::up("short");
    let daemon = Daemon::start(&net, None);
    let c = daemon.client();
    let id = submit_transfer(&c, transfer("short", "devnet-b:TUSD", "75")).await;
    // Someone empties B's escrow before the deposit on A is final.
    let drained = net.drain_escrow("devnet-b", SINK.parse().unwrap()).await;
    assert!(drained > U256::ZERO);
    let waiting = wait_for("the hop to wait for liquidity", 60, async || {
        let t = status(&c, &id).await;
        assert_ne!(t["state"], "failed", "{t:#}");
        let note = t["hops"][0]["note"].as_str().unwrap_or("").to_owned();
        note.contains("holds").then_some(t)
    })
    .await;
    assert_eq!(waiting["state"], "pending", "{waiting:#}");
    // Still waiting a few seconds later, nothing released, nothing lost.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let t = status(&c, &id).await;
    assert_eq!(t["state"], "pending", "{t:#}");
    assert_eq!(net.balance("devnet-b", RECIPIENT).await, U256::ZERO);
    // Refilled: released, once.
    let escrow = net.addr("devnet-b", "escrow");
    net.send(
        "devnet-b",
        net.addr("devnet-b", "token"),
        mint_call(escrow, drained),
    )
    .await;
    let done = transfer_in(&c, &id, "done", 90).await;
    let out = amount(&done["hops"][0]["amount_out"]);
    assert_eq!(net.balance("devnet-b", RECIPIENT).await, out, "paid once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deposit_that_cannot_be_released_is_refunded_once_its_release_is_cancelled_on_chain() {
    let net = Devnet::up_with("refund", &["--refund-delay-s", "5"]);
    let daemon = Daemon::start(&net, None);
    let c = daemon.client();
    let relayer = net.treasury();
    let before = net.balance("devnet-a", &relayer).await;
    let id = submit_transfer(&c, transfer("stranded", "devnet-b:TUSD", "60")).await;
    net.drain_escrow("devnet-b", SINK.parse().unwrap()).await;
    wait_for("the deposit to be made", 60, async || {
        let t = status(&c, &id).await;
        t["hops"][0]["deposit_id"].as_str().map(|_| t.clone())
    })
    .await;
    let deposited = net.balance("devnet-a", &relayer).await;
    assert!(deposited < before, "the deposit left the relayer");

    // The operator gives up: cancelled on B, then refunded on A.
    let r = call(
        &c,
        "transfer_refund",
        json!({ "id": id, "reason": "escrow B emptied; investigating" }),
    )
    .await
    .unwrap();
    assert_eq!(r["audit"]["action"], "transfer_refund");
    let failed = transfer_in(&c, &id, "failed", 120).await;
    assert_eq!(failed["hops"][0]["state"], "refunded", "{failed:#}");
    assert!(
        failed["error"].as_str().unwrap().contains("refunded"),
        "{failed:#}"
    );
    assert_eq!(
        net.balance("devnet-a", &relayer).await,
        before,
        "all of it came back"
    );
    let dep: alloy_primitives::B256 = failed["hops"][0]["deposit_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (b, _) = net.chain("devnet-b");
    let a_id = net.info_of("devnet-a")["chain_id"].as_u64().unwrap();
    assert!(
        b.release_cancelled(net.addr("devnet-b", "escrow"), a_id, dep)
            .await
            .unwrap(),
        "no release of it can ever pay"
    );
    assert_eq!(net.balance("devnet-b", RECIPIENT).await, U256::ZERO);
    // A second refund request finds nothing to refund.
    let again = call(
        &c,
        "transfer_refund",
        json!({ "id": id, "reason": "again" }),
    )
    .await;
    assert_eq!(again.unwrap_err().0, 4001);
}

async fn audit_has(c: &HttpClient, action: &str, target: &str) -> bool {
    let a = call(c, "ops_audit", json!({ "limit": 1000 }))
        .await
        .unwrap();
    assert_eq!(a["verified"], true);
    audit_pairs(&a, "action", "target")
        .iter()
        .any(|(x, t)| x == action && t == target)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_right_after_an_operator_action_leaves_it_in_the_audit_log() {
    let net = Devnet::up_with("audited", &["--auth"]);
    let (merchant, operator, admin) = (net.token("acme"), net.token("olivia"), net.token("root"));
    let payout = |key: &str| {
        json!({
            "idempotency_key": key,
            "items": [{ "to": "devnet-b:TUSD", "recipient": RECIPIENT, "amount": "150" }],
        })
    };

    // ops_approve.
    let d = Daemon::start(&net, Some("approve"));
    let id = call(
        &d.client_as(&merchant),
        "payout_submit",
        payout("approve-me"),
    )
    .await
    .unwrap()["ids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    payout_in(&d.client_as(&merchant), &id, "held").await;
    fire(&d.client_as(&operator), "ops_approve", json!({ "id": id })).await;
    d.killed();
    let d = Daemon::start(&net, None);
    assert!(audit_has(&d.client_as(&operator), "approve", &format!("payout:{id}")).await);
    payout_in(&d.client_as(&merchant), &id, "final").await;
    drop(d);

    // ops_reject.
    let d = Daemon::start(&net, Some("reject"));
    let id = call(
        &d.client_as(&merchant),
        "payout_submit",
        payout("reject-me"),
    )
    .await
    .unwrap()["ids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    payout_in(&d.client_as(&merchant), &id, "held").await;
    fire(
        &d.client_as(&operator),
        "ops_reject",
        json!({ "id": id, "reason": "unknown recipient" }),
    )
    .await;
    d.killed();
    let d = Daemon::start(&net, None);
    assert!(audit_has(&d.client_as(&operator), "reject", &format!("payout:{id}")).await);
    assert_eq!(
        call(
            &d.client_as(&merchant),
            "payout_status",
            json!({ "id": id })
        )
        .await
        .unwrap()["state"],
        "failed"
    );
    drop(d);

    // keys_create, then keys_revoke.
    let d = Daemon::start(&net, Some("key-create"));
    fire(
        &d.client_as(&admin),
        "keys_create",
        json!({ "role": "merchant", "name": "initech" }),
    )
    .await;
    d.killed();
    let d = Daemon::start(&net, None);
    let keys = call(&d.client_as(&admin), "keys_list", json!({}))
        .await
        .unwrap();
    let key = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "initech")
        .expect("the key was created")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(audit_has(&d.client_as(&admin), "key_create", &key).await);
    drop(d);
    let d = Daemon::start(&net, Some("key-revoke"));
    fire(&d.client_as(&admin), "keys_revoke", json!({ "id": key })).await;
    d.killed();
    let d = Daemon::start(&net, None);
    assert!(audit_has(&d.client_as(&admin), "key_revoke", &key).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_right_after_a_hop_fails_leaves_the_hop_and_its_transfer_failed() {
    let net = Devnet::up("hopfail");
    // The token freezes the treasury on A: its deposit reverts.
    let relayer: alloy_primitives::Address = net.treasury().parse().unwrap();
    net.send(
        "devnet-a",
        net.addr("devnet-a", "token"),
        blacklist_call(relayer),
    )
    .await;
    let d = Daemon::start(&net, Some("hop-failed"));
    let id = submit_transfer(&d.client(), transfer("doomed", "devnet-b:TUSD", "10")).await;
    d.killed();
    let d = Daemon::start(&net, None);
    let t = transfer_in(&d.client(), &id, "failed", 30).await;
    assert_eq!(t["hops"][0]["state"], "failed");
    assert!(
        t["error"].as_str().unwrap().contains("Blacklisted"),
        "the token's reason: {t:#}"
    );
    // A deposit that never left says nothing of the bridge's delivery: its
    // health in the quote is unmoved (the breaker counted the failure).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let q = call(
        &d.client(),
        "route_quote",
        json!({"from": "devnet-a:TUSD", "to": "devnet-b:TUSD", "amount": "10", "mode": "cheapest"}),
    )
    .await
    .unwrap();
    let leg = &q["routes"][0]["legs"][0];
    assert_eq!(leg["bridge"], "escrow-a-b", "{q:#}");
    assert!(leg["health"].get("observed").is_none(), "{q:#}");
    assert_eq!(leg["health"]["success_basis"], "prior", "{q:#}");
}

#[test]
fn a_second_serve_on_the_same_store_refuses_to_start() {
    let net = Devnet::up("twice");
    let _first = Daemon::start(&net, None);
    let out = std::process::Command::new(common::BIN)
        .arg("serve")
        .arg("--config")
        .arg(net.dir.join("switchyard.toml"))
        .args(["--listen", "127.0.0.1:0"])
        .envs(net.env())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another switchyard"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_sending_with_the_same_key_halts_the_first_ones_lane_until_an_operator_resumes_it()
 {
    let net = Devnet::up("samekey");
    let first = Daemon::start(&net, None);
    let c1 = first.client();
    // A second daemon, same relayer key, its own store and port.
    let cfg = std::fs::read_to_string(net.dir.join("switchyard.toml")).unwrap();
    let other = net.dir.join("other.toml");
    std::fs::write(
        &other,
        cfg.replace("switchyard.db", "other.db").replace(
            &format!("listen = \"{}\"", listen_of(&cfg)),
            "listen = \"127.0.0.1:0\"",
        ),
    )
    .unwrap();
    let second = Daemon::start_config(&net, &other);
    let c2 = second.client();
    let item = |key: &str, r: &str| {
        json!({
            "idempotency_key": key,
            "items": [{ "to": "devnet-a:TUSD", "recipient": r, "amount": "3" }],
        })
    };
    let r2 = "0x00000000000000000000000000000000000b0b02";
    let id2 = call(&c2, "payout_submit", item("from-second", r2))
        .await
        .unwrap()["ids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    payout_in(&c2, &id2, "final").await;

    // The first daemon saw sends from its key that it did not make.
    let halted = wait_for("the first daemon's lane on A to halt", 60, async || {
        let (_, h) = first.get("/health");
        let h: Value = serde_json::from_str(&h).unwrap();
        h["lanes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["chain_id"] == 31337 && !l["halted"].is_null())
            .cloned()
    })
    .await;
    assert!(
        halted["halted"]
            .as_str()
            .unwrap()
            .contains("another process"),
        "{halted}"
    );
    let r1 = "0x00000000000000000000000000000000000b0b01";
    let id1 = call(&c1, "payout_submit", item("from-first", r1))
        .await
        .unwrap()["ids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        net.balance("devnet-a", r1).await,
        U256::ZERO,
        "a halted lane sends nothing"
    );

    drop(second);
    let r = call(
        &c1,
        "ops_lane_resume",
        json!({ "chain": "devnet-a", "reason": "the second daemon is stopped" }),
    )
    .await
    .unwrap();
    assert_eq!(r["audit"]["action"], "lane_resume");
    payout_in(&c1, &id1, "final").await;
    assert_eq!(net.balance("devnet-a", r1).await, U256::from(3_000_000u64));
    assert_eq!(net.balance("devnet-a", r2).await, U256::from(3_000_000u64));
}

fn listen_of(cfg: &str) -> String {
    cfg.lines()
        .find_map(|l| l.strip_prefix("listen = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_fail_over_from_dead_frozen_lagging_and_wrong_chain_endpoints_and_payouts_are_paid_once()
 {
    let net = Devnet::up("endpoints");
    let good = url_of(&net, "devnet-b");
    // Dead: nothing listens. Frozen: accepts, never answers. Lagging: a
    // real node of the same chain stuck at an earlier block.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let frozen = RpcProxy::with_rule(&good, Box::new(|_, _| Action::Hang));
    let head = switchyard_chains::rpc_proxy::quantity(&switchyard_chains::rpc_proxy::call(
        &good,
        "eth_blockNumber",
        json!([]),
    ));
    let lagging = switchyard_chains::testing::Anvil::start_with(
        31338,
        &[
            "--fork-url",
            &good,
            "--fork-block-number",
            &head.to_string(),
            "--no-mining",
        ],
    );
    // Another chain entirely, far ahead: never to be believed.
    let other = switchyard_chains::testing::Anvil::start(4242);
    switchyard_chains::rpc_proxy::call(&other.url, "anvil_mine", json!(["0x3e8"]));
    let urls = format!(
        "rpc_urls = [\"{dead}\", \"{}\", \"{}\", \"{}\", \"{good}\"]",
        frozen.url, lagging.url, other.url
    );
    net.edit_topology(|t| t.replace(&format!("rpc_url = \"{good}\""), &urls));
    let daemon = Daemon::start(&net, None);
    let c = daemon.client();
    let items: Vec<Value> = (0..5)
        .map(|i| {
            json!({
                "to": "devnet-b:TUSD",
                "recipient": format!("0x00000000000000000000000000000000000e{i:04x}"),
                "amount": format!("{}", i + 1),
            })
        })
        .collect();
    let ids = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "failover", "items": items }),
    )
    .await
    .unwrap()["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    for id in &ids {
        payout_in(&c, id, "final").await;
    }
    for i in 0..5u64 {
        let r = format!("0x00000000000000000000000000000000000e{i:04x}");
        assert_eq!(
            net.balance("devnet-b", &r).await,
            U256::from((i + 1) * 1_000_000),
            "paid once"
        );
    }
    let (_, h) = daemon.get("/health");
    let h: Value = serde_json::from_str(&h).unwrap();
    assert!(
        !h["breakers"].to_string().contains("devnet-b"),
        "no breaker opened: {h:#}"
    );
    let b = h["rpc_endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["chain"] == "devnet-b")
        .unwrap()
        .clone();
    let states: Vec<&str> = b["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states[0], "down", "dead: {b:#}");
    assert_eq!(states[1], "down", "frozen: {b:#}");
    assert_eq!(states[2], "lagging", "lagging: {b:#}");
    assert_eq!(states[3], "wrong_chain", "another chain: {b:#}");
    assert_eq!(states[4], "ok", "good: {b:#}");
}

#[test]
fn devnet_files_holding_keys_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let net = Devnet::up_with("private", &["--auth"]);
    for f in ["env", "keys.json"] {
        let mode = std::fs::metadata(net.dir.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f} is {mode:o}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refund_asked_while_the_release_is_on_its_way_ends_done_when_the_release_wins() {
    let net = Devnet::up("race");
    let d = Daemon::start(&net, None);
    let c = d.client();
    let relayer = net.treasury();
    let before = net.balance("devnet-a", &relayer).await;
    let id = submit_transfer(&c, transfer("race", "devnet-b:TUSD", "20")).await;
    // The moment the release is on the destination lane, the operator
    // gives up; the release is ahead of the cancellation and wins.
    wait_for("the release on its way", 60, async || {
        let t = status(&c, &id).await;
        (t["hops"][0]["state"] == "releasing").then_some(t)
    })
    .await;
    let r = call(
        &c,
        "transfer_refund",
        json!({ "id": id, "reason": "looked stuck" }),
    )
    .await
    .unwrap();
    assert_eq!(r["audit"]["action"], "transfer_refund");
    let done = transfer_in(&c, &id, "done", 90).await;
    assert_eq!(done["hops"][0]["state"], "done", "{done:#}");
    let out = amount(&done["hops"][0]["amount_out"]);
    assert_eq!(net.balance("devnet-b", RECIPIENT).await, out, "paid once");
    let spent = before - net.balance("devnet-a", &relayer).await;
    assert_eq!(
        spent,
        U256::from(20_000_000u64),
        "deposited once, not refunded"
    );
}
