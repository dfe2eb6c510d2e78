use std::path::PathBuf;
use std::sync::Arc;

use alloy::primitives::{Address, U256, address};
use alloy::providers::Provider;
use switchyard_chains::evm::EvmChain;
use switchyard_chains::testing::Anvil;
use switchyard_core::finality::Finality;
use switchyard_relayer::{Call, FeePolicy, Lane, Store, TickReport};

/// anvil's second development account: the lane's key in these tests.
pub const LANE_KEY: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
pub const LANE: Address = address!("70997970C51812dc3A010C7d01b50e0d17dc79C8");

pub fn db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sy-relayer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("relayer.db")
}

pub fn pay(to: u8, wei: u64) -> Call {
    Call {
        to: Address::with_last_byte(to),
        data: Vec::new(),
        value: U256::from(wei),
        gas_limit: Some(21_000),
    }
}

pub const ONE_BLOCK: Finality = Finality::Blocks { blocks: 1 };

pub fn chain(anvil: &Anvil) -> EvmChain {
    EvmChain::connect(&anvil.url, anvil.chain_id, ONE_BLOCK, LANE_KEY).unwrap()
}

pub fn lane(path: &std::path::Path, chain_id: u64, policy: FeePolicy) -> Lane {
    Lane::open(Arc::new(Store::open(path).unwrap()), chain_id, LANE, policy).unwrap()
}

/// Ticks until `done` holds for the report, at most 50 times.
pub async fn tick_until(
    lane: &Lane,
    chain: &EvmChain,
    mut done: impl FnMut(&TickReport) -> bool,
) -> TickReport {
    for _ in 0..50 {
        let r = lane.tick(chain).await.unwrap();
        if done(&r) {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("lane did not get there in 50 ticks");
}

pub async fn rpc(anvil: &Anvil, method: &str, params: serde_json::Value) -> serde_json::Value {
    let p = anvil.provider(LANE_KEY);
    p.raw_request::<_, serde_json::Value>(method.to_owned().into(), params)
        .await
        .unwrap()
}

pub async fn mine(anvil: &Anvil, blocks: u64) {
    rpc(
        anvil,
        "anvil_mine",
        serde_json::json!([format!("{blocks:#x}")]),
    )
    .await;
}
