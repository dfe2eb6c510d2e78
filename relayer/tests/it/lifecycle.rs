use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::{DynProvider, Provider};
use switchyard_chains::evm::contracts::{IErc20, execute_call};
use switchyard_chains::evm::eip712::{
    Eip712Signer, Payout, PayoutBatch, domain, payout_batch_digest,
};
use switchyard_chains::testing::{Anvil, DEV_KEY};
use switchyard_core::chain::{ChainReader, TxId, TxStatus, TxSubmitter};
use switchyard_core::finality::Finality;
use switchyard_relayer::{Call, FeePolicy, TxState};

use crate::common::*;

struct Batcher {
    token: Address,
    batcher: Address,
    signer: Eip712Signer,
}

async fn deploy_batcher(p: &DynProvider) -> Batcher {
    let signer = Eip712Signer::from_hex("key", &"44".repeat(32)).unwrap();
    let (token, batcher) = switchyard_chains::testing::deploy_batcher(
        p,
        &[signer.address()],
        1,
        U256::from(10u64.pow(15)),
    )
    .await;
    Batcher {
        token,
        batcher,
        signer,
    }
}

fn batch_call(d: &Batcher, chain_id: u64, id: &str, n: u16) -> (PayoutBatch, Call) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let batch = PayoutBatch {
        batchId: keccak256(id),
        token: d.token,
        payouts: (0..n)
            .map(|i| Payout {
                to: Address::from_word(keccak256(format!("{id}/recipient/{i}"))),
                amount: U256::from(1_000_000u64 + u64::from(i)),
            })
            .collect(),
        deadline: now + 3600,
    };
    let digest = payout_batch_digest(&batch, &domain(chain_id, d.batcher));
    let sig = d.signer.sign_digest(&digest).unwrap().to_vec();
    let data = execute_call(&batch, vec![d.signer.address()], vec![sig]);
    let call = Call {
        to: d.batcher,
        data,
        value: U256::ZERO,
        gas_limit: None,
    };
    (batch, call)
}

async fn balance(p: &DynProvider, token: Address, who: Address) -> U256 {
    IErc20::new(token, p).balanceOf(who).call().await.unwrap()
}

#[tokio::test]
async fn a_reorg_after_one_confirmation_resends_the_200_recipient_batch_and_pays_each_once() {
    let anvil = Anvil::start(31337);
    let p = anvil.provider(DEV_KEY);
    let d = deploy_batcher(&p).await;
    let chain = chain(&anvil);
    let lane = lane(&db("reorg"), 31337, FeePolicy::default());
    let (batch, call) = batch_call(&d, 31337, "reorg-batch", 200);
    let rec = lane
        .reserve("batch:reorg", &call, Finality::Blocks { blocks: 3 })
        .unwrap();

    // Sent and mined (anvil mines on arrival), seen with one confirmation.
    tick_until(&lane, &chain, |r| r.included == 1).await;
    let first = lane.get("batch:reorg").unwrap().unwrap();
    assert_eq!(first.state, TxState::Included);
    let (block, block_hash) = first.block.unwrap();
    assert_eq!(
        chain.head().await.unwrap().number,
        block,
        "one confirmation"
    );

    // The 200 payouts landed in this one transaction, one event each.
    let hash = first.hash.unwrap();
    let paid = chain.paid_in(hash, d.batcher).await.unwrap();
    assert_eq!(paid.len(), 200);
    for (i, (e, item)) in paid.iter().zip(&batch.payouts).enumerate() {
        assert_eq!(
            (e.batch_id, e.index, e.to, e.amount),
            (batch.batchId, U256::from(i), item.to, item.amount)
        );
    }

    // A one-block reorg drops it.
    rpc(&anvil, "anvil_reorg", serde_json::json!([1, []])).await;
    assert_ne!(
        B256::from(chain.block_at(block).await.unwrap().unwrap().hash),
        block_hash,
        "block replaced"
    );
    assert_eq!(
        balance(&p, d.token, batch.payouts[0].to).await,
        U256::ZERO,
        "the reorg undid the payout"
    );

    // The watcher notices, sends the same bytes again, and waits for depth 3.
    let mut reorged = 0;
    let mut finalized = false;
    for _ in 0..30 {
        let r = lane.tick(&chain).await.unwrap();
        reorged += r.reorged;
        if r.finalized == 1 {
            finalized = true;
            break;
        }
        mine(&anvil, 1).await;
    }
    assert!(finalized);
    assert!(reorged >= 1);
    let last = lane.get("batch:reorg").unwrap().unwrap();
    assert!(last.succeeded());
    assert_eq!(
        last.hash,
        Some(hash),
        "the same transaction, not a second one"
    );
    assert_ne!(last.block.unwrap().1, block_hash);
    assert_eq!(lane.attempts(rec.id).unwrap().len(), 1);
    for item in &batch.payouts {
        assert_eq!(
            balance(&p, d.token, item.to).await,
            item.amount,
            "paid exactly once"
        );
    }
    assert!(chain.executed(d.batcher, batch.batchId).await.unwrap());

    // The contract's replay guard is the last line: the same batch under
    // another intent is never sent; its nonce carries a no-op instead.
    let dup = lane
        .reserve("batch:reorg:again", &call, Finality::Blocks { blocks: 1 })
        .unwrap();
    let r = lane.tick(&chain).await.unwrap();
    assert_eq!(r.cancelled, 1);
    tick_until(&lane, &chain, |r| r.finalized == 1).await;
    let dup = lane.get(&dup.intent).unwrap().unwrap();
    assert!(dup.failed());
    assert!(
        dup.cancelled.as_deref().unwrap_or("").contains("revert"),
        "{:?}",
        dup.cancelled
    );
    for item in batch.payouts.iter().take(5) {
        assert_eq!(balance(&p, d.token, item.to).await, item.amount);
    }
}

#[tokio::test]
async fn a_transaction_stuck_under_a_low_fee_cap_is_replaced_with_higher_fees_and_mined() {
    let anvil = Anvil::start_with(31337, &["--no-mining"]);
    let chain = chain(&anvil);
    let policy = FeePolicy {
        replace_after_blocks: 2,
        base_multiplier: 1,
        ..FeePolicy::default()
    };
    let lane = lane(&db("stuck"), 31337, policy);
    let rec = lane
        .reserve("payout:stuck", &pay(0x5c, 777), ONE_BLOCK)
        .unwrap();
    let r = lane.tick(&chain).await.unwrap();
    assert_eq!(r.sent, 1);
    let first = lane.get("payout:stuck").unwrap().unwrap();
    let old = first.fees.unwrap();

    // The base fee jumps past our cap before the next block.
    let base = u128::try_from(chain.fees().await.unwrap().base).unwrap();
    rpc(
        &anvil,
        "anvil_setNextBlockBaseFeePerGas",
        serde_json::json!([format!("{:#x}", (base + old.max) * 10)]),
    )
    .await;
    mine(&anvil, 1).await;
    let r = lane.tick(&chain).await.unwrap();
    assert_eq!((r.included, r.replaced), (0, 0), "not yet due");
    mine(&anvil, 1).await;
    let r = lane.tick(&chain).await.unwrap();
    assert_eq!(r.replaced, 1, "two blocks unmined: replaced");
    let second = lane.get("payout:stuck").unwrap().unwrap();
    let new = second.fees.unwrap();
    assert_eq!(second.nonce, first.nonce);
    assert!(new.max * 1000 >= old.max * 1125, "{new:?} vs {old:?}");
    assert!(new.tip * 1000 >= old.tip * 1125, "{new:?} vs {old:?}");
    assert!(new.max <= FeePolicy::default().max_fee_cap);

    mine(&anvil, 1).await;
    tick_until(&lane, &chain, |r| r.finalized == 1).await;
    let done = lane.get("payout:stuck").unwrap().unwrap();
    assert!(done.succeeded());
    assert_eq!(done.hash, second.hash, "the replacement was mined");
    let attempts = lane.attempts(rec.id).unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        chain
            .status(&TxId(first.hash.unwrap().to_vec()))
            .await
            .unwrap(),
        TxStatus::Unknown,
        "the first attempt never will be"
    );
    let p = anvil.provider(LANE_KEY);
    assert_eq!(
        p.get_balance(Address::with_last_byte(0x5c)).await.unwrap(),
        U256::from(777u64)
    );
}

#[tokio::test]
async fn an_included_transaction_is_final_only_at_its_depth() {
    let anvil = Anvil::start(31337);
    let chain = chain(&anvil);
    let lane = lane(&db("depth"), 31337, FeePolicy::default());
    lane.reserve("payout:deep", &pay(0xdd, 1), Finality::Blocks { blocks: 5 })
        .unwrap();
    tick_until(&lane, &chain, |r| r.included == 1).await;
    for confirmations in 1..5 {
        let r = lane.tick(&chain).await.unwrap();
        assert_eq!(r.finalized, 0, "{confirmations} confirmations");
        mine(&anvil, 1).await;
    }
    let r = lane.tick(&chain).await.unwrap();
    assert_eq!(r.finalized, 1, "5 confirmations");
    let p = anvil.provider(LANE_KEY);
    // Nothing else went out from the lane's key.
    let nonce = p.get_transaction_count(LANE).await.unwrap();
    assert_eq!(nonce, 1);
}

#[tokio::test]
async fn a_finalized_tag_tier_waits_for_the_chains_finalized_block_whatever_its_base_rule() {
    // finalized = head - 8 on this node; the chain's base rule is 1 block.
    let anvil = Anvil::start_with(31337, &["--slots-in-an-epoch", "4"]);
    let chain = chain(&anvil);
    let lane = lane(&db("tag"), 31337, FeePolicy::default());
    let rule = Finality::Tag {
        tag: switchyard_core::finality::BlockTag::Finalized,
    };
    lane.reserve("payout:tagged", &pay(0x7a, 9), rule).unwrap();
    tick_until(&lane, &chain, |r| r.included == 1).await;
    let block = lane.get("payout:tagged").unwrap().unwrap().block.unwrap().0;
    let mut ticks = 0;
    loop {
        let r = lane.tick(&chain).await.unwrap();
        let finalized = chain
            .tagged(switchyard_core::finality::BlockTag::Finalized)
            .await
            .unwrap()
            .number;
        if r.finalized == 1 {
            assert!(
                finalized >= block,
                "final at the node's finalized block {finalized}, the tx is in {block}"
            );
            break;
        }
        assert!(
            finalized < block,
            "finalized passed the block and it did not settle"
        );
        ticks += 1;
        assert!(ticks < 30, "never final");
        mine(&anvil, 1).await;
    }
    assert!(
        ticks >= 7,
        "waited for the tag, not one block ({ticks} ticks)"
    );
}

#[tokio::test]
async fn a_row_whose_step_fails_does_not_stop_the_rest_of_its_lane() {
    use switchyard_chains::rpc_proxy::{Action, RpcProxy};
    let anvil = Anvil::start(31337);
    let proxy = RpcProxy::start(&anvil.url);
    let chain =
        switchyard_chains::evm::EvmChain::connect(&proxy.url, 31337, ONE_BLOCK, LANE_KEY).unwrap();
    let lane = lane(&db("isolated"), 31337, FeePolicy::default());
    lane.reserve("payout:first", &pay(0xa1, 1), ONE_BLOCK)
        .unwrap();
    let _ = lane.tick(&chain).await;
    let first = lane.get("payout:first").unwrap().unwrap();
    let hash = format!("{:#x}", first.hash.expect("sent"));
    // From now on the node cannot answer for the first row's receipt.
    proxy.set_rule(Box::new(move |method, req| {
        if method == "eth_getTransactionReceipt" && req["params"][0].as_str() == Some(hash.as_str())
        {
            Action::Error(-32000, "receipt index corrupted".into())
        } else {
            Action::Forward
        }
    }));
    lane.reserve("payout:second", &pay(0xa2, 2), ONE_BLOCK)
        .unwrap();
    for _ in 0..10 {
        let _ = lane.tick(&chain).await;
        mine(&anvil, 1).await;
    }
    let second = lane.get("payout:second").unwrap().unwrap();
    assert!(second.succeeded(), "{second:?}");
    let first = lane.get("payout:first").unwrap().unwrap();
    assert_ne!(first.state, TxState::Final);
    let why = first.last_error.expect("the failing row says why");
    assert!(why.contains("receipt index corrupted"), "{why}");
    assert_eq!(lane.failing().unwrap().len(), 1);
}
