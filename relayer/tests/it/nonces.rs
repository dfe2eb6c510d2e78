use std::sync::Arc;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use switchyard_chains::testing::Anvil;
use switchyard_core::chain::{ChainReader, TxId, TxStatus, TxSubmitter};
use switchyard_relayer::{FeePolicy, Hook, Stage, TxState};

use crate::common::*;

#[test]
fn reservations_survive_a_restart_and_intents_are_idempotent() {
    let path = db("restart");
    {
        let lane = lane(&path, 31337, FeePolicy::default());
        assert_eq!(
            lane.reserve("payout:a", &pay(1, 5), ONE_BLOCK)
                .unwrap()
                .nonce,
            0
        );
        assert_eq!(
            lane.reserve("payout:a", &pay(1, 5), ONE_BLOCK)
                .unwrap()
                .nonce,
            0,
            "same intent, same nonce"
        );
        assert_eq!(
            lane.reserve("payout:b", &pay(2, 5), ONE_BLOCK)
                .unwrap()
                .nonce,
            1
        );
        assert!(
            lane.reserve("payout:a", &pay(1, 6), ONE_BLOCK).is_err(),
            "same intent, other call"
        );
    }
    let lane = lane(&path, 31337, FeePolicy::default());
    assert_eq!(lane.next_nonce().unwrap(), 2);
    assert_eq!(
        lane.reserve("payout:a", &pay(1, 5), ONE_BLOCK)
            .unwrap()
            .nonce,
        0
    );
    assert_eq!(lane.open_records().unwrap().len(), 2);
    // Another signer's lane on the same chain counts its own nonces.
    let other = switchyard_relayer::Lane::open(
        Arc::new(switchyard_relayer::Store::open(&path).unwrap()),
        31337,
        Address::with_last_byte(9),
        FeePolicy::default(),
    )
    .unwrap();
    assert_eq!(
        other
            .reserve("payout:a", &pay(1, 5), ONE_BLOCK)
            .unwrap()
            .nonce,
        0
    );
}

#[test]
fn a_fee_policy_below_the_replacement_minimum_is_refused() {
    let policy = FeePolicy {
        bump_permille: 50,
        ..FeePolicy::default()
    };
    let err = switchyard_relayer::Lane::open(
        Arc::new(switchyard_relayer::Store::open(&db("policy")).unwrap()),
        31337,
        LANE,
        policy,
    )
    .unwrap_err();
    assert!(err.to_string().contains("bump_permille"), "{err}");
}

#[tokio::test]
async fn a_new_lane_adopts_the_keys_history_and_numbers_its_rows_after_it() {
    let anvil = Anvil::start(31337);
    let chain = chain(&anvil);
    let lane = lane(&db("adopt"), 31337, FeePolicy::default());
    let ours = lane
        .reserve("payout:adopt", &pay(0xd1, 1_000), ONE_BLOCK)
        .unwrap();
    assert_eq!(ours.nonce, 0);

    // The key was used before this store existed.
    let p = anvil.provider(LANE_KEY);
    foreign_send(&p, 0xee).await;

    let report = lane.tick(&chain).await.unwrap();
    assert_eq!(report.halted, None, "history is not a foreign send");
    let ours = lane.get("payout:adopt").unwrap().unwrap();
    assert_eq!(ours.nonce, 1, "numbered after the key's history");
    tick_until(&lane, &chain, |r| r.finalized == 1).await;
    let ours = lane.get("payout:adopt").unwrap().unwrap();
    assert!(ours.succeeded());
    assert_eq!(chain.nonce(false).await.unwrap(), 2);
    assert_eq!(lane.next_nonce().unwrap(), 2);
    assert_eq!(
        p.get_balance(Address::with_last_byte(0xd1)).await.unwrap(),
        U256::from(1_000u64)
    );
}

async fn foreign_send(p: &alloy::providers::DynProvider, to: u8) {
    let r = p
        .send_transaction(
            TransactionRequest::default()
                .with_to(Address::with_last_byte(to))
                .with_value(U256::from(7u8)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status());
}

#[tokio::test]
async fn a_foreign_send_from_the_lanes_key_halts_it_until_an_operator_resumes() {
    let anvil = Anvil::start(31337);
    let chain = chain(&anvil);
    let lane = lane(&db("halt"), 31337, FeePolicy::default());
    assert_eq!(lane.tick(&chain).await.unwrap().halted, None);
    let ours = lane
        .reserve("payout:halt", &pay(0xd2, 2_000), ONE_BLOCK)
        .unwrap();
    assert_eq!(ours.nonce, 0);

    // Another process signs with the same key and takes nonce 0.
    let p = anvil.provider(LANE_KEY);
    foreign_send(&p, 0xef).await;
    // Not re-nonced on the chain's word alone: only once a finalized
    // block shows the foreign transaction.
    let mut halted = None;
    for _ in 0..5 {
        let r = lane.tick(&chain).await.unwrap();
        if r.halted.is_some() {
            halted = r.halted;
            break;
        }
        mine(&anvil, 1).await;
    }
    let why = halted.expect("the lane halts");
    assert!(why.contains("did not send"), "{why}");
    // Halted, the row keeps its nonce: whether to send it again is the
    // operator's call.
    let ours = lane.get("payout:halt").unwrap().unwrap();
    assert_eq!((ours.nonce, ours.state), (0, TxState::Reserved));

    // Halted: nothing goes out, however often it ticks.
    for _ in 0..3 {
        let r = lane.tick(&chain).await.unwrap();
        assert_eq!(r.sent, 0);
        assert!(r.halted.is_some());
    }
    assert_eq!(chain.nonce(false).await.unwrap(), 1);

    let audit = lane
        .resume("olivia", "the second process is stopped")
        .unwrap()
        .expect("it was halted");
    assert_eq!(audit.action, "lane_resume");
    assert!(lane.resume("olivia", "again").unwrap().is_none());
    tick_until(&lane, &chain, |r| r.finalized == 1).await;
    let ours = lane.get("payout:halt").unwrap().unwrap();
    assert!(ours.succeeded());
    assert_eq!(
        ours.nonce, 1,
        "re-nonced once the operator accepted the foreign send"
    );
    assert_eq!(
        p.get_balance(Address::with_last_byte(0xd2)).await.unwrap(),
        U256::from(2_000u64),
        "paid once"
    );
    assert_eq!(chain.nonce(false).await.unwrap(), 2);
}

#[tokio::test]
async fn a_receipt_source_that_lags_never_gets_a_mined_transaction_sent_twice() {
    use switchyard_chains::rpc_proxy::{Action, RpcProxy, call, quantity};
    const LAG: u64 = 5;
    let anvil = Anvil::start(31337);
    let up = anvil.url.clone();
    // Receipts come from a node LAG blocks behind; everything else from
    // the node at the tip (as behind a load balancer).
    let proxy = RpcProxy::with_rule(
        &anvil.url,
        Box::new(move |method, _| {
            if method != "eth_getTransactionReceipt" {
                return Action::Forward;
            }
            let up = up.clone();
            Action::Rewrite(Box::new(move |mut v| {
                let head = quantity(&call(&up, "eth_blockNumber", serde_json::json!([])));
                let mined = quantity(&v["result"]["blockNumber"]);
                if !v["result"].is_null() && mined + LAG > head {
                    v["result"] = serde_json::Value::Null;
                }
                v
            }))
        }),
    );
    let chain = switchyard_chains::evm::EvmChain::connect(
        &proxy.url,
        31337,
        switchyard_core::finality::Finality::Blocks { blocks: 2 },
        LANE_KEY,
    )
    .unwrap();
    let lane = lane(&db("lag"), 31337, FeePolicy::default());
    lane.reserve("payout:lag", &pay(0x1a, 4_242), ONE_BLOCK)
        .unwrap();
    let mut renonced = 0;
    for _ in 0..20 {
        renonced += lane.tick(&chain).await.unwrap().renonced;
        mine(&anvil, 1).await;
    }
    let rec = lane.get("payout:lag").unwrap().unwrap();
    assert!(rec.succeeded(), "{rec:?}");
    assert_eq!(renonced, 0);
    let p = anvil.provider(LANE_KEY);
    assert_eq!(
        p.get_balance(Address::with_last_byte(0x1a)).await.unwrap(),
        U256::from(4_242u64),
        "paid exactly once"
    );
    assert_eq!(p.get_transaction_count(LANE).await.unwrap(), 1, "one send");
}

#[tokio::test]
async fn a_crash_between_signing_and_broadcast_sends_the_same_transaction_once() {
    let anvil = Anvil::start(31337);
    let path = db("crash");
    let chain = chain(&anvil);
    let recipient = Address::with_last_byte(0xc7);
    // The "crash": a hook that panics right after the attempt is stored,
    // inside a task, so nothing after that point runs.
    let crash: Hook = Arc::new(|stage, _| {
        if stage == Stage::Signed {
            panic!("crash drill: killed after signing");
        }
    });
    let crashing = lane(&path, 31337, FeePolicy::default()).with_hook(crash);
    crashing
        .reserve("payout:crash", &pay(0xc7, 12_345), ONE_BLOCK)
        .unwrap();
    let c = chain.clone();
    let died = tokio::spawn(async move { crashing.tick(&c).await }).await;
    assert!(died.unwrap_err().is_panic());

    // Restart: a new store handle on the same file.
    let lane = lane(&path, 31337, FeePolicy::default());
    let rec = lane.get("payout:crash").unwrap().unwrap();
    assert_eq!(rec.state, TxState::Signed, "stored before the broadcast");
    let hash = rec.hash.unwrap();
    assert_eq!(
        chain.status(&TxId(hash.to_vec())).await.unwrap(),
        TxStatus::Unknown,
        "never broadcast"
    );
    let report = lane.tick(&chain).await.unwrap();
    assert_eq!(report.rebroadcast, 1);
    tick_until(&lane, &chain, |r| r.finalized == 1).await;
    let rec = lane.get("payout:crash").unwrap().unwrap();
    assert_eq!(rec.hash, Some(hash), "the very same transaction was mined");
    assert_eq!(lane.attempts(rec.id).unwrap().len(), 1);
    let p = anvil.provider(LANE_KEY);
    assert_eq!(
        p.get_balance(recipient).await.unwrap(),
        U256::from(12_345u64)
    );
    assert_eq!(chain.nonce(false).await.unwrap(), 1);
    assert_eq!(chain.head().await.unwrap().number, 1);
}

#[tokio::test]
async fn a_copy_of_the_store_sending_the_same_call_is_taken_for_the_row_and_never_sent_again() {
    let anvil = Anvil::start(31337);
    let chain = chain(&anvil);
    let here = db("copy-a");
    let lane_a = lane(&here, 31337, FeePolicy::default());
    assert_eq!(lane_a.tick(&chain).await.unwrap().halted, None);
    lane_a
        .reserve("deposit:once", &pay(0xd5, 5_555), ONE_BLOCK)
        .unwrap();
    // A standby host restored from a copy of the store sends the row.
    switchyard_relayer::Store::open(&here)
        .unwrap()
        .checkpoint()
        .unwrap();
    let there = db("copy-b");
    std::fs::copy(&here, &there).unwrap();
    let lane_b = lane(&there, 31337, FeePolicy::default());
    tick_until(&lane_b, &chain, |r| r.finalized == 1).await;
    // The first host finds its nonce used by a transaction it did not
    // sign, making its very call: that is the row's, executed once.
    for _ in 0..5 {
        let _ = lane_a.tick(&chain).await.unwrap();
        mine(&anvil, 1).await;
    }
    assert!(lane_a.halted().unwrap().is_some(), "another process sends");
    lane_a.resume("olivia", "the standby is stopped").unwrap();
    for _ in 0..10 {
        let _ = lane_a.tick(&chain).await.unwrap();
        mine(&anvil, 1).await;
    }
    let row = lane_a.get("deposit:once").unwrap().unwrap();
    assert!(row.succeeded(), "{row:?}");
    assert_eq!(row.nonce, 0, "never re-nonced");
    let p = anvil.provider(LANE_KEY);
    assert_eq!(
        p.get_balance(Address::with_last_byte(0xd5)).await.unwrap(),
        U256::from(5_555u64),
        "executed once"
    );
    assert_eq!(chain.nonce(false).await.unwrap(), 1);
}

#[tokio::test]
async fn a_foreign_use_of_a_nonce_is_proven_at_the_rows_own_finality_not_the_chains_base_rule() {
    // The node's finalized block is 8 behind its head; the chain's base
    // rule is one block, the row's (a large amount's tier) the tag.
    let anvil = Anvil::start_with(31337, &["--slots-in-an-epoch", "4"]);
    let chain = chain(&anvil);
    let lane = lane(&db("tier-proof"), 31337, FeePolicy::default());
    assert_eq!(lane.tick(&chain).await.unwrap().halted, None);
    let rule = switchyard_core::finality::Finality::Tag {
        tag: switchyard_core::finality::BlockTag::Finalized,
    };
    lane.reserve("payout:large", &pay(0xd6, 6), rule).unwrap();
    let p = anvil.provider(LANE_KEY);
    foreign_send(&p, 0xee).await;
    // Three blocks on: final under the base rule, not under the row's.
    for _ in 0..3 {
        let r = lane.tick(&chain).await.unwrap();
        assert_eq!(r.halted, None, "proven too early");
        mine(&anvil, 1).await;
    }
    let mut halted = false;
    for _ in 0..12 {
        if lane.tick(&chain).await.unwrap().halted.is_some() {
            halted = true;
            break;
        }
        mine(&anvil, 1).await;
    }
    assert!(halted, "proven once the tag passed the foreign transaction");
}
