//! The lane's durable nonce management against a real anvil: restarts,
//! idempotent intents, sends by someone else from the same key, and a crash
//! between signing and broadcast.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256, address};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use switchyard_chains::evm::EvmChain;
use switchyard_chains::testing::{Anvil, DEV_KEY};
use switchyard_core::chain::{ChainReader, TxId, TxStatus, TxSubmitter};
use switchyard_core::finality::Finality;
use switchyard_relayer::{Call, Lane, Store, TxState};

const SENDER: Address = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

fn db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sy-relayer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("relayer.db")
}

fn pay(to: u8, wei: u64) -> Call {
    Call {
        to: Address::with_last_byte(to),
        data: Vec::new(),
        value: U256::from(wei),
        gas_limit: 21_000,
    }
}

async fn fees(chain: &EvmChain) -> (u128, u128) {
    let f = chain.fees().await.unwrap();
    let base: u128 = f.base.try_into().unwrap();
    (base * 2 + 2_000_000_000, 1_000_000_000)
}

async fn included(chain: &EvmChain, hash: alloy::primitives::B256) -> bool {
    for _ in 0..100 {
        if let TxStatus::Included { success, .. } =
            chain.status(&TxId(hash.to_vec())).await.unwrap()
        {
            return success;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[test]
fn reservations_survive_a_restart_and_intents_are_idempotent() {
    let path = db("restart");
    {
        let lane = Lane::open(Arc::new(Store::open(&path).unwrap()), 31337, SENDER).unwrap();
        assert_eq!(lane.reserve("payout:a", &pay(1, 5)).unwrap().nonce, 0);
        assert_eq!(
            lane.reserve("payout:a", &pay(1, 5)).unwrap().nonce,
            0,
            "same intent, same nonce"
        );
        assert_eq!(lane.reserve("payout:b", &pay(2, 5)).unwrap().nonce, 1);
        assert!(
            lane.reserve("payout:a", &pay(1, 6)).is_err(),
            "same intent, other call"
        );
    }
    let lane = Lane::open(Arc::new(Store::open(&path).unwrap()), 31337, SENDER).unwrap();
    assert_eq!(lane.next_nonce().unwrap(), 2);
    assert_eq!(lane.reserve("payout:a", &pay(1, 5)).unwrap().nonce, 0);
    assert_eq!(lane.open_records().unwrap().len(), 2);
    // Another signer's lane on the same chain counts its own nonces.
    let other = Lane::open(
        Arc::new(Store::open(&path).unwrap()),
        31337,
        Address::with_last_byte(9),
    )
    .unwrap();
    assert_eq!(other.reserve("payout:a", &pay(1, 5)).unwrap().nonce, 0);
}

#[tokio::test]
async fn a_send_by_another_process_from_the_same_key_does_not_jam_the_lane() {
    let anvil = Anvil::start(31337);
    let chain =
        EvmChain::connect(&anvil.url, 31337, Finality::Blocks { blocks: 1 }, DEV_KEY).unwrap();
    let lane = Lane::open(Arc::new(Store::open(&db("drift")).unwrap()), 31337, SENDER).unwrap();
    let ours = lane.reserve("payout:drift", &pay(0xd1, 1_000)).unwrap();
    assert_eq!(ours.nonce, 0);

    // Someone else spends nonce 0 from the same key.
    let p = anvil.provider(DEV_KEY);
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

    let report = lane.reconcile(&chain).await.unwrap();
    assert_eq!((report.chain_nonce, report.renonced), (1, 1));
    let ours = lane.get("payout:drift").unwrap().unwrap();
    assert_eq!((ours.nonce, ours.state), (1, TxState::Reserved));
    let (fee, tip) = fees(&chain).await;
    let sent = lane.send(&chain, &ours, fee, tip).await.unwrap();
    assert!(included(&chain, sent.hash.unwrap()).await);
    assert_eq!(chain.nonce(false).await.unwrap(), 2);
    assert_eq!(lane.next_nonce().unwrap(), 2);
}

#[tokio::test]
async fn a_crash_between_signing_and_broadcast_sends_the_same_transaction_once() {
    let anvil = Anvil::start(31337);
    let path = db("crash");
    let chain =
        EvmChain::connect(&anvil.url, 31337, Finality::Blocks { blocks: 1 }, DEV_KEY).unwrap();
    let recipient = Address::with_last_byte(0xc7);
    let (fee, tip) = fees(&chain).await;
    let hash = {
        let lane = Lane::open(Arc::new(Store::open(&path).unwrap()), 31337, SENDER).unwrap();
        let rec = lane.reserve("payout:crash", &pay(0xc7, 12_345)).unwrap();
        // Sign and record exactly as `send` does, then "crash" before the
        // broadcast: a chain adapter pointed nowhere fails it.
        let dead = EvmChain::connect(
            "http://127.0.0.1:9",
            31337,
            Finality::Blocks { blocks: 1 },
            DEV_KEY,
        )
        .unwrap();
        assert!(lane.send(&dead, &rec, fee, tip).await.is_err());
        let rec = lane.get("payout:crash").unwrap().unwrap();
        assert_eq!(
            rec.state,
            TxState::Signed,
            "signed and stored before the broadcast failed"
        );
        rec.hash.unwrap()
    };
    assert_eq!(
        chain.status(&TxId(hash.to_vec())).await.unwrap(),
        TxStatus::Unknown
    );

    // Restart: a new store handle, reconcile against the live chain.
    let lane = Lane::open(Arc::new(Store::open(&path).unwrap()), 31337, SENDER).unwrap();
    let report = lane.reconcile(&chain).await.unwrap();
    assert_eq!(report.rebroadcast, 1);
    assert!(
        included(&chain, hash).await,
        "the very same transaction was mined"
    );
    let report = lane.reconcile(&chain).await.unwrap();
    assert_eq!(
        (report.included, report.rebroadcast, report.renonced),
        (1, 0, 0)
    );
    assert_eq!(
        lane.get("payout:crash").unwrap().unwrap().state,
        TxState::Included
    );
    // Paid exactly once.
    let p = anvil.provider(DEV_KEY);
    assert_eq!(
        p.get_balance(recipient).await.unwrap(),
        U256::from(12_345u64)
    );
    assert_eq!(chain.nonce(false).await.unwrap(), 1);
    assert_eq!(chain.head().await.unwrap().number, 1);
}
