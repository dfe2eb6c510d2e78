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
async fn a_send_by_another_process_from_the_same_key_does_not_jam_the_lane() {
    let anvil = Anvil::start(31337);
    let chain = chain(&anvil);
    let lane = lane(&db("drift"), 31337, FeePolicy::default());
    let ours = lane
        .reserve("payout:drift", &pay(0xd1, 1_000), ONE_BLOCK)
        .unwrap();
    assert_eq!(ours.nonce, 0);

    // Someone else spends nonce 0 from the same key.
    let p = anvil.provider(LANE_KEY);
    let r = p
        .send_transaction(
            TransactionRequest::default()
                .with_to(Address::with_last_byte(0xee))
                .with_value(U256::from(7u8)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status());

    let report = lane.tick(&chain).await.unwrap();
    assert_eq!((report.chain_nonce, report.renonced), (1, 1));
    let ours = lane.get("payout:drift").unwrap().unwrap();
    assert_eq!((ours.nonce, ours.state), (1, TxState::Reserved));
    tick_until(&lane, &chain, |r| r.finalized == 1).await;
    let ours = lane.get("payout:drift").unwrap().unwrap();
    assert!(ours.succeeded());
    assert_eq!(chain.nonce(false).await.unwrap(), 2);
    assert_eq!(lane.next_nonce().unwrap(), 2);
    assert_eq!(
        p.get_balance(Address::with_last_byte(0xd1)).await.unwrap(),
        U256::from(1_000u64)
    );
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
