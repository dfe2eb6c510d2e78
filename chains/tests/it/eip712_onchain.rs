//! A batch signed in Rust verifies on chain; the same signatures are
//! refused by an identical deployment on another chain.

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::{DynProvider, Provider};
use alloy::sol;
use switchyard_chains::evm::eip712::{
    Eip712Signer, Payout, PayoutBatch, domain, payout_batch_digest,
};

use switchyard_chains::testing::{Anvil, DEV_KEY, deploy_batcher};

sol! {
    #[sol(rpc)]
    interface IPayoutBatcher {
        struct Item { address to; uint256 amount; }
        function execute(bytes32 batchId, address token, Item[] payouts, uint64 deadline, address[] signers, bytes[] signatures) external;
        function hashBatch(bytes32 batchId, address token, Item[] payouts, uint64 deadline) external view returns (bytes32);
        function executed(bytes32 batchId) external view returns (bool);
    }

    #[sol(rpc)]
    interface ITestUSD {
        function balanceOf(address who) external view returns (uint256);
    }
}

const SIGNER_KEYS: [&str; 3] = [
    "1111111111111111111111111111111111111111111111111111111111111111",
    "2222222222222222222222222222222222222222222222222222222222222222",
    "3333333333333333333333333333333333333333333333333333333333333333",
];

struct Deployment {
    token: Address,
    batcher: Address,
}

async fn deploy_all(p: &DynProvider, signers: &[Address]) -> Deployment {
    let (token, batcher) = deploy_batcher(p, signers, 2, U256::from(1_000_000_000_000u64)).await;
    Deployment { token, batcher }
}

#[tokio::test]
async fn rust_signatures_verify_on_chain_and_fail_on_another_chain() {
    let (a, b) = (Anvil::start(31337), Anvil::start(31338));
    let (pa, pb) = (a.provider(DEV_KEY), b.provider(DEV_KEY));
    assert_eq!(pa.get_chain_id().await.unwrap(), a.chain_id);
    assert_eq!(pb.get_chain_id().await.unwrap(), b.chain_id);
    let mut signers: Vec<Eip712Signer> = SIGNER_KEYS
        .iter()
        .map(|k| Eip712Signer::from_hex("key", k).unwrap())
        .collect();
    signers.sort_by_key(|s| s.address());
    let set: Vec<Address> = signers.iter().map(|s| s.address()).collect();
    let da = deploy_all(&pa, &set).await;
    let db = deploy_all(&pb, &set).await;
    // Same deployer, same nonces: the same addresses on both chains, so the
    // chain id is the only difference between the two domains.
    assert_eq!((da.token, da.batcher), (db.token, db.batcher));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let batch = PayoutBatch {
        batchId: keccak256("batch-onchain-1"),
        token: da.token,
        payouts: (1u8..=3)
            .map(|i| Payout {
                to: Address::with_last_byte(0xa0 + i),
                amount: U256::from(1_000_000u64 * u64::from(i)),
            })
            .collect(),
        deadline: now + 3600,
    };
    let items: Vec<IPayoutBatcher::Item> = batch
        .payouts
        .iter()
        .map(|p| IPayoutBatcher::Item {
            to: p.to,
            amount: p.amount,
        })
        .collect();

    // The digest computed in Rust is the contract's, bit for bit.
    let digest = payout_batch_digest(&batch, &domain(31337, da.batcher));
    let on_a = IPayoutBatcher::new(da.batcher, &pa);
    let on_b = IPayoutBatcher::new(db.batcher, &pb);
    let chain_digest: B256 = on_a
        .hashBatch(batch.batchId, batch.token, items.clone(), batch.deadline)
        .call()
        .await
        .unwrap();
    assert_eq!(digest, chain_digest);
    let other: B256 = on_b
        .hashBatch(batch.batchId, batch.token, items.clone(), batch.deadline)
        .call()
        .await
        .unwrap();
    assert_ne!(digest, other, "chain B has another domain");

    // Two of three sign, in ascending address order.
    let who = vec![set[0], set[2]];
    let sigs: Vec<alloy::primitives::Bytes> = [&signers[0], &signers[2]]
        .iter()
        .map(|s| s.sign_digest(&digest).unwrap().to_vec().into())
        .collect();

    // Refused on chain B (simulated, then sent).
    let sim = on_b
        .execute(
            batch.batchId,
            batch.token,
            items.clone(),
            batch.deadline,
            who.clone(),
            sigs.clone(),
        )
        .call()
        .await;
    assert!(
        sim.is_err(),
        "chain B must refuse a signature made for chain A"
    );

    // Accepted on chain A: every recipient paid.
    let receipt = on_a
        .execute(
            batch.batchId,
            batch.token,
            items.clone(),
            batch.deadline,
            who.clone(),
            sigs.clone(),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let token_a = ITestUSD::new(da.token, &pa);
    for p in &batch.payouts {
        assert_eq!(token_a.balanceOf(p.to).call().await.unwrap(), p.amount);
    }
    assert!(on_a.executed(batch.batchId).call().await.unwrap());
    // Replay on A is refused too.
    let replay = on_a
        .execute(batch.batchId, batch.token, items, batch.deadline, who, sigs)
        .call()
        .await;
    assert!(replay.is_err(), "a batch id executes once");
    let token_b = ITestUSD::new(db.token, &pb);
    assert_eq!(
        token_b.balanceOf(batch.payouts[0].to).call().await.unwrap(),
        U256::ZERO
    );
}
