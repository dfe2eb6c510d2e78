//! Payout batches against real anvil nodes, driven step by step: a batch
//! that fails is cancelled on chain before its items can be paid again, a
//! batch executed by someone else settles from its own `Paid` events, a
//! recipient the token refuses fails alone, the float is not counted
//! twice, the governor's queue cannot be frozen by one item, and one
//! failing chain does not stop the others.

use std::collections::HashMap;
use std::sync::Arc;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256, keccak256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use switchyard_chains::evm::EvmChain;
use switchyard_chains::evm::attest::LocalAttester;
use switchyard_chains::evm::contracts::{IErc20, blacklist_call, unblacklist_call};
use switchyard_chains::evm::eip712::Eip712Signer;
use switchyard_chains::rpc_proxy::{Action, RpcProxy};
use switchyard_chains::testing::{Anvil, DEV_KEY, deploy_batcher};
use switchyard_core::UsdE8;
use switchyard_core::finality::Finality;
use switchyard_relayer::{
    BatchPolicy, FeePolicy, Lane, LaneHandle, NewPayout, PayoutChain, PayoutView, Payouts, Store,
};

use crate::common::*;

/// anvil's fourth account: a stranger who replays calldata it saw.
const STRANGER_KEY: &str = "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const DEPTH: Finality = Finality::Blocks { blocks: 3 };

/// One chain: anvil, TestUSD, a PayoutBatcher with `float`, a lane.
pub(crate) struct Side {
    anvil: Anvil,
    chain_id: u64,
    token: Address,
    batcher: Address,
    deployer: DynProvider,
    lane: LaneHandle,
}

struct Rig {
    sides: Vec<Side>,
    payouts: Payouts,
}

pub(crate) fn signer() -> Eip712Signer {
    Eip712Signer::from_hex("key", &"44".repeat(32)).unwrap()
}

async fn side(store: &Arc<Store>, chain_id: u64, float: u64) -> Side {
    let anvil = Anvil::start(chain_id);
    let deployer = anvil.provider(DEV_KEY);
    let (token, batcher) =
        deploy_batcher(&deployer, &[signer().address()], 1, U256::from(float)).await;
    let chain = EvmChain::connect(&anvil.url, chain_id, ONE_BLOCK, LANE_KEY).unwrap();
    let lane = Lane::open(Arc::clone(store), chain_id, LANE, FeePolicy::default()).unwrap();
    Side {
        anvil,
        chain_id,
        token,
        batcher,
        deployer,
        lane: LaneHandle { lane, chain },
    }
}

pub(crate) fn payouts_over(store: &Arc<Store>, sides: &[&Side]) -> Payouts {
    let chains: HashMap<u64, PayoutChain> = sides
        .iter()
        .map(|s| {
            (
                s.chain_id,
                PayoutChain {
                    lane: s.lane.clone(),
                    batcher: s.batcher,
                },
            )
        })
        .collect();
    Payouts::new(
        Arc::clone(store),
        chains,
        Arc::new(LocalAttester::new(vec![signer()], "key")),
        BatchPolicy {
            max_items: 200,
            max_age_ms: 0,
            ttl_s: 3_600,
        },
    )
}

async fn rig(name: &str, float: u64) -> Rig {
    let store = Arc::new(Store::open(&db(name)).unwrap());
    let a = side(&store, 31337, float).await;
    let payouts = payouts_over(&store, &[&a]);
    Rig {
        sides: vec![a],
        payouts,
    }
}

fn recipient(tag: &str, i: u64) -> Address {
    Address::from_word(keccak256(format!("{tag}/{i}")))
}

fn item(side: &Side, to: Address, amount: u64, usd: u64) -> NewPayout {
    payout_to(side.chain_id, side.token, to, amount, usd)
}

/// A payout of `amount` base units worth `usd` dollars on `chain_id`.
pub(crate) fn payout_to(
    chain_id: u64,
    token: Address,
    to: Address,
    amount: u64,
    usd: u64,
) -> NewPayout {
    NewPayout {
        asset: format!("chain-{chain_id}:TUSD"),
        chain: format!("chain-{chain_id}"),
        chain_id,
        token: token.to_checksum(None),
        recipient: to.to_checksum(None),
        amount: U256::from(amount),
        finality: DEPTH,
        memo: None,
        source: None,
        mode: "cheapest".into(),
        approvals: 0,
        usd: UsdE8(U256::from(usd) * U256::from(100_000_000u64)),
    }
}

fn submit(rig: &Rig, key: &str, items: &[NewPayout]) -> Vec<String> {
    rig.payouts
        .submit("acme", key, keccak256(key), items)
        .unwrap()
        .ids
}

fn view(rig: &Rig, id: &str) -> PayoutView {
    rig.payouts.get(id).unwrap().unwrap()
}

/// One step of everything: payouts, every lane, one block on every chain.
/// Steps until `id` is submitted (its batch reserved on the lane, not yet
/// sent) and returns its batch id.
async fn submitted_batch(rig: &Rig, id: &str) -> String {
    for _ in 0..5 {
        let _ = rig.payouts.step().await;
        if view(rig, id).state == "submitted" {
            break;
        }
    }
    view(rig, id).batch_id.unwrap()
}

async fn step(rig: &Rig) {
    let _ = rig.payouts.step().await;
    for s in &rig.sides {
        let _ = s.lane.lane.tick(&s.lane.chain).await;
    }
    for s in &rig.sides {
        mine(&s.anvil, 1).await;
    }
}

/// Steps until every id is in one of `states`, at most `n` steps.
async fn until(rig: &Rig, ids: &[String], states: &[&str], n: usize) -> Vec<PayoutView> {
    for _ in 0..n {
        let views: Vec<PayoutView> = ids.iter().map(|i| view(rig, i)).collect();
        if views.iter().all(|v| states.contains(&v.state.as_str())) {
            return views;
        }
        step(rig).await;
    }
    let views: Vec<PayoutView> = ids.iter().map(|i| view(rig, i)).collect();
    panic!("not all in {states:?} after {n} steps: {views:#?}");
}

async fn balance(s: &Side, who: Address) -> U256 {
    IErc20::new(s.token, &s.deployer)
        .balanceOf(who)
        .call()
        .await
        .unwrap()
}

/// `who` holds exactly `amount` on `s`'s token: paid once.
async fn paid_once(s: &Side, who: Address, amount: u64) {
    assert_eq!(
        balance(s, who).await,
        U256::from(amount),
        "paid once to {who}"
    );
}

async fn owner_call(s: &Side, data: Vec<u8>) {
    switchyard_chains::testing::send(&s.deployer, s.token, data).await;
}

/// Sends `data` to `to` from the stranger's account; whether it succeeded.
async fn replay(s: &Side, to: Address, data: Vec<u8>) -> bool {
    let p = s.anvil.provider(STRANGER_KEY);
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_input(alloy::primitives::Bytes::from(data))
        .with_gas_limit(3_000_000);
    match p.send_transaction(tx).await {
        Ok(pending) => pending.get_receipt().await.unwrap().status(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_failed_batch_is_cancelled_on_chain_so_its_replay_after_a_refill_is_refused() {
    let rig = rig("replay", 1_000_000_000).await;
    let a = &rig.sides[0];
    let to: Vec<Address> = (0..2).map(|i| recipient("replay", i)).collect();
    // The token refuses the second recipient: the batch reverts.
    owner_call(a, blacklist_call(to[1])).await;
    let ids = submit(
        &rig,
        "first",
        &[item(a, to[0], 5_000_000, 5), item(a, to[1], 7_000_000, 7)],
    );
    let done = until(&rig, &ids, &["final", "failed"], 60).await;
    assert_eq!(done[0].state, "final", "paid in a new batch: {:?}", done[0]);
    assert_eq!(done[1].state, "failed");
    let why = done[1].reason.clone().unwrap_or_default();
    assert!(why.contains("Blacklisted"), "the token's reason: {why}");
    let batch = done[1].batch_id.clone().expect("was batched");
    assert!(
        a.lane
            .chain
            .batch_cancelled(a.batcher, batch.parse().unwrap())
            .await
            .unwrap(),
        "failed only once its batch's cancellation is on chain"
    );
    let old = a
        .lane
        .lane
        .get(&format!("payout-batch:{batch}"))
        .unwrap()
        .unwrap();

    // The token lets the recipient be paid again; the merchant resubmits.
    owner_call(a, unblacklist_call(to[1])).await;
    let again = submit(&rig, "second", &[item(a, to[1], 7_000_000, 7)]);
    until(&rig, &again, &["final"], 40).await;

    // Anyone replaying the old signed batch is refused.
    assert!(
        !replay(a, a.batcher, old.call.data.clone()).await,
        "the failed batch executed after all"
    );
    paid_once(a, to[0], 5_000_000).await;
    paid_once(a, to[1], 7_000_000).await;
}

#[tokio::test]
async fn a_batcher_the_token_freezes_holds_its_payouts_and_pays_them_once_when_unfrozen() {
    let rig = rig("frozen-batcher", 1_000_000_000).await;
    let a = &rig.sides[0];
    let to: Vec<Address> = (0..2).map(|i| recipient("frozen-batcher", i)).collect();
    owner_call(a, blacklist_call(a.batcher)).await;
    let ids = submit(
        &rig,
        "frozen",
        &[item(a, to[0], 1_000_000, 1), item(a, to[1], 2_000_000, 2)],
    );
    // Not the recipients' fault: nobody fails; the batch is cancelled on
    // chain and the items wait.
    let mut batch = None;
    for _ in 0..60 {
        step(&rig).await;
        let v = view(&rig, &ids[0]);
        assert_ne!(v.state, "failed", "{v:?}");
        if v.state == "held"
            && v.reason
                .as_deref()
                .unwrap_or("")
                .contains("refuses transfers out")
        {
            batch = Some(());
            break;
        }
    }
    assert!(batch.is_some(), "held: {:?}", view(&rig, &ids[0]));
    for _ in 0..5 {
        step(&rig).await;
        assert_eq!(
            view(&rig, &ids[0]).state,
            "held",
            "nothing is re-sent while it refuses"
        );
    }
    owner_call(a, unblacklist_call(a.batcher)).await;
    until(&rig, &ids, &["final"], 60).await;
    paid_once(a, to[0], 1_000_000).await;
    paid_once(a, to[1], 2_000_000).await;
}

#[tokio::test]
async fn a_crash_after_the_batch_is_on_its_lane_does_not_lose_where_its_use_is_found() {
    let store_path = db("reserved-crash");
    let store = Arc::new(Store::open(&store_path).unwrap());
    let a = side(&store, 31337, 1_000_000_000).await;
    let crashing = payouts_over(&store, &[&a]).with_hook(Arc::new(|stage, _| {
        if stage == "reserved" {
            panic!("crash drill: killed after the batch's call is on its lane");
        }
    }));
    let to = recipient("reserved", 0);
    let ids = crashing
        .submit(
            "acme",
            "reserved",
            keccak256("reserved"),
            &[item(&a, to, 3_000_000, 3)],
        )
        .unwrap()
        .ids;
    let p = crashing.clone();
    assert!(
        tokio::spawn(async move { p.step().await })
            .await
            .unwrap_err()
            .is_panic()
    );
    // The lane (its own task) sends the call meanwhile, and it is mined.
    for _ in 0..3 {
        let _ = a.lane.lane.tick(&a.lane.chain).await;
        mine(&a.anvil, 1).await;
    }
    // Restart: a fresh Payouts on the same store.
    let rig = Rig {
        payouts: payouts_over(&store, &[&a]),
        sides: vec![a],
    };
    let views = until(&rig, &ids, &["final"], 30).await;
    assert!(views[0].tx.is_some());
    assert_eq!(balance(&rig.sides[0], to).await, U256::from(3_000_000u64));
}

#[tokio::test]
async fn a_node_that_answers_no_logs_never_makes_an_executed_batch_look_dead() {
    let store = Arc::new(Store::open(&db("no-logs")).unwrap());
    let mut a = side(&store, 31337, 1_000_000_000).await;
    // Logs are never indexed on this node, as behind some load balancers.
    let proxy = RpcProxy::with_rule(
        &a.anvil.url,
        Box::new(|method, _| {
            if method == "eth_getLogs" {
                Action::Rewrite(Box::new(|mut v| {
                    v["result"] = serde_json::json!([]);
                    v
                }))
            } else {
                Action::Forward
            }
        }),
    );
    a.lane.chain = EvmChain::connect(&proxy.url, 31337, ONE_BLOCK, LANE_KEY).unwrap();
    // Short-lived batches, so their deadline passes within the test.
    let payouts = Payouts::new(
        Arc::clone(&store),
        HashMap::from([(
            a.chain_id,
            PayoutChain {
                lane: a.lane.clone(),
                batcher: a.batcher,
            },
        )]),
        Arc::new(LocalAttester::new(vec![signer()], "key")),
        BatchPolicy {
            max_items: 200,
            max_age_ms: 0,
            ttl_s: 3,
        },
    );
    let rig = Rig {
        sides: vec![a],
        payouts,
    };
    let a = &rig.sides[0];
    let to = recipient("no-logs", 0);
    let ids = submit(&rig, "no-logs", &[item(a, to, 4_000_000, 4)]);
    let batch = submitted_batch(&rig, &ids[0]).await;
    let ours = a
        .lane
        .lane
        .get(&format!("payout-batch:{batch}"))
        .unwrap()
        .unwrap();
    // A stranger executes it first; ours then cannot.
    assert!(replay(a, a.batcher, ours.call.data.clone()).await);
    // Past its deadline, at depth, with no logs to be found anywhere.
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(8) {
        step(&rig).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let v = view(&rig, &ids[0]);
    assert_ne!(v.state, "queued", "re-queued for a second payment: {v:?}");
    assert_ne!(v.state, "failed", "{v:?}");
    paid_once(a, to, 4_000_000).await;
    // Logs come back: it settles from the stranger's events.
    proxy.set_rule(Box::new(|_, _| Action::Forward));
    let views = until(&rig, &ids, &["final"], 40).await;
    assert!(views[0].tx.is_some());
    paid_once(a, to, 4_000_000).await;
}

#[tokio::test]
async fn a_batch_that_cannot_be_submitted_any_more_does_not_stop_the_other_chains() {
    let store = Arc::new(Store::open(&db("gone-chain")).unwrap());
    let a = side(&store, 31337, 1_000_000_000).await;
    let b = side(&store, 31338, 1_000_000_000).await;
    // B's batch is written, then the process dies before submitting it.
    let crashing = payouts_over(&store, &[&a, &b]).with_hook(Arc::new(|stage, _| {
        if stage == "written" {
            panic!("crash drill: killed after writing the batch");
        }
    }));
    let on_b = crashing
        .submit(
            "acme",
            "on-b",
            keccak256("on-b"),
            &[item(&b, recipient("gone", 0), 1_000_000, 1)],
        )
        .unwrap()
        .ids;
    let p = crashing.clone();
    assert!(
        tokio::spawn(async move { p.step().await })
            .await
            .unwrap_err()
            .is_panic()
    );
    // Restarted with B taken out of the config: A goes on.
    let rig = Rig {
        payouts: payouts_over(&store, &[&a]),
        sides: vec![a],
    };
    assert_eq!(view(&rig, &on_b[0]).state, "batched");
    let on_a = submit(
        &rig,
        "on-a",
        &[item(&rig.sides[0], recipient("gone", 1), 2_000_000, 2)],
    );
    until(&rig, &on_a, &["final"], 40).await;
    assert_eq!(view(&rig, &on_b[0]).state, "batched", "waits for its chain");
    let errors = rig.payouts.chain_errors();
    assert!(
        errors
            .iter()
            .any(|(c, e, _)| *c == 31338 && e.contains("no payout lane")),
        "{errors:?}"
    );
    drop(b);
}

#[tokio::test]
async fn a_recipient_the_token_refuses_fails_alone_and_the_rest_of_its_batch_is_paid() {
    let rig = rig("blacklist", 1_000_000_000).await;
    let a = &rig.sides[0];
    let to: Vec<Address> = (0..3).map(|i| recipient("frozen", i)).collect();
    owner_call(a, blacklist_call(to[1])).await;
    let ids = submit(
        &rig,
        "mixed",
        &[
            item(a, to[0], 1_000_000, 1),
            item(a, to[1], 2_000_000, 2),
            item(a, to[2], 3_000_000, 3),
        ],
    );
    let views = until(&rig, &ids, &["final", "failed"], 60).await;
    assert_eq!(views[0].state, "final", "{:?}", views[0]);
    assert_eq!(views[2].state, "final", "{:?}", views[2]);
    assert_eq!(views[1].state, "failed");
    let why = views[1].reason.clone().unwrap_or_default();
    assert!(why.contains("Blacklisted"), "the token's reason: {why}");
    assert_eq!(balance(a, to[0]).await, U256::from(1_000_000u64));
    assert_eq!(balance(a, to[1]).await, U256::ZERO);
    assert_eq!(balance(a, to[2]).await, U256::from(3_000_000u64));
}

#[tokio::test]
async fn a_batch_executed_by_someone_else_settles_from_that_transactions_paid_events() {
    let rig = rig("frontrun", 1_000_000_000).await;
    let a = &rig.sides[0];
    let to: Vec<Address> = (0..2).map(|i| recipient("frontrun", i)).collect();
    let ids = submit(
        &rig,
        "frontrun",
        &[item(a, to[0], 4_000_000, 4), item(a, to[1], 6_000_000, 6)],
    );
    // Batched and reserved on the lane, not yet sent.
    let batch = submitted_batch(&rig, &ids[0]).await;
    let ours = a
        .lane
        .lane
        .get(&format!("payout-batch:{batch}"))
        .unwrap()
        .unwrap();
    // A stranger who saw the signed calldata executes it first.
    let p = a.anvil.provider(STRANGER_KEY);
    let theirs = p
        .send_transaction(
            TransactionRequest::default()
                .with_to(a.batcher)
                .with_input(alloy::primitives::Bytes::from(ours.call.data.clone()))
                .with_gas_limit(3_000_000),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(theirs.status());
    let views = until(&rig, &ids, &["final"], 40).await;
    for v in &views {
        assert_eq!(
            v.tx.as_deref(),
            Some(theirs.transaction_hash.to_string().as_str()),
            "settled from the transaction that paid it: {v:?}"
        );
        assert_eq!(v.block, theirs.block_number);
    }
    assert_eq!(balance(a, to[0]).await, U256::from(4_000_000u64));
    assert_eq!(balance(a, to[1]).await, U256::from(6_000_000u64));
}

#[tokio::test]
async fn the_float_is_not_counted_twice_while_a_paid_batch_waits_for_depth() {
    let rig = rig("float", 1_000_000).await;
    let a = &rig.sides[0];
    let first = submit(&rig, "big", &[item(a, recipient("float", 0), 600_000, 1)]);
    // Paid on chain, not yet at depth.
    until(&rig, &first, &["confirmed"], 20).await;
    assert_eq!(balance(a, a.batcher).await, U256::from(400_000u64));
    // 300k of the 400k left fits.
    let second = submit(&rig, "small", &[item(a, recipient("float", 1), 300_000, 1)]);
    let _ = rig.payouts.step().await;
    let v = view(&rig, &second[0]);
    assert_ne!(v.state, "held", "{v:?}");
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    until(&rig, &all, &["final"], 40).await;
    assert_eq!(balance(a, a.batcher).await, U256::from(100_000u64));
}

#[tokio::test]
async fn an_item_over_the_whole_budget_waits_for_an_operator_without_holding_back_the_queue() {
    let mut rig = rig("governor", 1_000_000_000).await;
    let a = &rig.sides[0];
    let usd = |n: u64| UsdE8(U256::from(n) * U256::from(100_000_000u64));
    let limit = switchyard_relayer::governor::Limit {
        budget: usd(100),
        window_ms: 3_600_000,
        large: usd(1_000),
        large_delay_ms: 0,
    };
    rig.payouts = rig
        .payouts
        .clone()
        .with_governor(HashMap::from([(a.chain_id, limit)]));
    let a = &rig.sides[0];
    let huge = submit(
        &rig,
        "huge",
        &[item(a, recipient("gov", 0), 150_000_000, 150)],
    );
    let unpriced = submit(
        &rig,
        "unpriced",
        &[item(a, recipient("gov", 1), 1_000_000, 0)],
    );
    let small = submit(
        &rig,
        "small",
        &[item(a, recipient("gov", 2), 30_000_000, 30)],
    );
    let views = until(&rig, &small, &["final"], 40).await;
    assert_eq!(views[0].state, "final");
    let h = view(&rig, &huge[0]);
    assert_eq!(h.state, "held");
    assert!(
        h.reason.clone().unwrap_or_default().contains("operator"),
        "{h:?}"
    );
    assert_eq!(view(&rig, &unpriced[0]).state, "held");

    // An operator admits the big one (audited) and rejects the unpriced one.
    let ok = rig.payouts.approve(&huge[0], "olivia").unwrap().unwrap();
    assert!(ok.admitted);
    assert_eq!(ok.audit.action, "admit");
    let audit = rig
        .payouts
        .reject(&unpriced[0], "oscar", "no price feed for this asset")
        .unwrap()
        .expect("rejected");
    assert_eq!(audit.action, "reject");
    until(&rig, &huge, &["final"], 40).await;
    let u = view(&rig, &unpriced[0]);
    assert_eq!(u.state, "failed");
    assert!(u.reason.unwrap().contains("rejected by oscar"));
    assert_eq!(
        balance(a, recipient("gov", 0)).await,
        U256::from(150_000_000u64)
    );
    assert_eq!(balance(a, recipient("gov", 1)).await, U256::ZERO);
}

#[tokio::test]
async fn one_chain_that_cannot_be_read_does_not_stop_payouts_on_the_others() {
    let store = Arc::new(Store::open(&db("isolation")).unwrap());
    let a = side(&store, 31337, 1_000_000_000).await;
    let mut b = side(&store, 31338, 1_000_000_000).await;
    // Chain B's node answers heads and nonces but refuses every eth_call
    // (its balances) the way an overloaded provider does.
    let proxy = RpcProxy::with_rule(
        &b.anvil.url,
        Box::new(|method, _| {
            if method == "eth_call" {
                Action::Http(503)
            } else {
                Action::Forward
            }
        }),
    );
    b.lane.chain = EvmChain::connect(&proxy.url, 31338, ONE_BLOCK, LANE_KEY).unwrap();
    let payouts = payouts_over(&store, &[&a, &b]);
    let rig = Rig {
        sides: vec![b, a],
        payouts,
    };
    let (b, a) = (&rig.sides[0], &rig.sides[1]);
    // B's item first in the queue.
    let on_b = submit(&rig, "on-b", &[item(b, recipient("iso", 0), 1_000_000, 1)]);
    let on_a = submit(&rig, "on-a", &[item(a, recipient("iso", 1), 2_000_000, 2)]);
    until(&rig, &on_a, &["final"], 40).await;
    let v = view(&rig, &on_b[0]);
    assert_eq!(v.state, "held", "{v:?}");
    assert_eq!(
        balance(a, recipient("iso", 1)).await,
        U256::from(2_000_000u64)
    );
}

#[tokio::test]
async fn a_batch_an_operator_gives_up_on_that_executes_first_settles_and_pays_once() {
    let rig = rig("giveup", 1_000_000_000).await;
    let a = &rig.sides[0];
    let to = recipient("giveup", 0);
    let ids = submit(&rig, "giveup", &[item(a, to, 9_000_000, 9)]);
    let batch = submitted_batch(&rig, &ids[0]).await;
    assert!(
        rig.payouts
            .give_up_batch(&batch, "olivia", "lane looked stuck")
            .unwrap()
    );
    assert!(
        !rig.payouts
            .give_up_batch(&batch, "olivia", "twice")
            .unwrap(),
        "only a submitted batch"
    );
    // The execute is ahead of the cancellation in the lane: it wins, the
    // cancellation is refused, and the batch settles from its events.
    let views = until(&rig, &ids, &["final"], 40).await;
    assert_eq!(views[0].state, "final");
    paid_once(a, to, 9_000_000).await;
    assert!(
        !a.lane
            .chain
            .batch_cancelled(a.batcher, batch.parse().unwrap())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn reconciliation_reads_the_batchers_paid_events_and_alerts_once_on_a_difference() {
    let rig = rig("reconcile", 1_000_000_000).await;
    let a = &rig.sides[0];
    let to: Vec<Address> = (0..2).map(|i| recipient("reconcile", i)).collect();
    let ids = submit(
        &rig,
        "reconcile",
        &[item(a, to[0], 4_000_000, 4), item(a, to[1], 6_000_000, 6)],
    );
    until(&rig, &ids, &["final"], 40).await;
    mine(&a.anvil, 4).await;
    // Our own payments, final: nothing to say.
    assert_eq!(rig.payouts.reconcile().await.unwrap(), 0);
    // The store and the chain disagree on one item (a store edited by
    // hand): read again from the start, it is a `payout_mismatch`, once.
    let path = std::env::temp_dir()
        .join(format!("sy-relayer-{}-reconcile", std::process::id()))
        .join("relayer.db");
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(
        "UPDATE payout SET amount = '4000001' WHERE id = ?1",
        [&ids[0]],
    )
    .unwrap();
    conn.execute("DELETE FROM reconcile_cursor", []).unwrap();
    assert_eq!(rig.payouts.reconcile().await.unwrap(), 1);
    conn.execute("DELETE FROM reconcile_cursor", []).unwrap();
    assert_eq!(rig.payouts.reconcile().await.unwrap(), 0, "recorded once");
    let (kind, detail): (String, String) = conn
        .query_row("SELECT kind, detail FROM alert", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(kind, "payout_mismatch");
    assert!(
        detail.contains(&ids[0]) && detail.contains("4000001"),
        "{detail}"
    );
}
