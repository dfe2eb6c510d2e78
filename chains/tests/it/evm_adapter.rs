//! The EVM adapter against a real anvil: reads, simulation, signing before
//! broadcast, submission and status.

use alloy::primitives::{Address as EvmAddress, Bytes, U256, address};
use alloy::sol_types::{SolCall, SolValue};
use switchyard_chains::evm::{EvmChain, EvmTx};
use switchyard_core::address::Address;
use switchyard_core::chain::{ChainError, ChainReader, TxId, TxStatus, TxSubmitter};
use switchyard_core::finality::Finality;

use switchyard_chains::testing::{Anvil, DEV_KEY, deploy};

alloy::sol! {
    function mint(address to, uint256 amount) external;
    function transfer(address to, uint256 amount) external returns (bool);
}

const OWNER: EvmAddress = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

async fn setup() -> (Anvil, EvmChain, EvmAddress) {
    let anvil = Anvil::start(31337);
    let token = deploy(&anvil.provider(DEV_KEY), "TestUSD", OWNER.abi_encode()).await;
    let chain =
        EvmChain::connect(&anvil.url, 31337, Finality::Blocks { blocks: 2 }, DEV_KEY).unwrap();
    (anvil, chain, token)
}

async fn tx(chain: &EvmChain, to: EvmAddress, data: Vec<u8>) -> EvmTx {
    let fees = chain.fees().await.unwrap();
    let base: u128 = fees.base.try_into().unwrap();
    EvmTx {
        to,
        data: Bytes::from(data),
        value: U256::ZERO,
        nonce: chain.nonce(true).await.unwrap(),
        gas_limit: 200_000,
        max_fee_per_gas: base * 2 + 1_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
    }
}

#[tokio::test]
async fn reads_heads_fees_and_balances() {
    let (_anvil, chain, token) = setup().await;
    assert_eq!(chain.sender(), OWNER);
    let head = chain.head().await.unwrap();
    assert!(head.number >= 1, "the deployment mined a block");
    let fin = chain.finalized_head().await.unwrap();
    assert_eq!(fin.number, head.number.saturating_sub(2));
    assert_eq!(
        chain.block_at(head.number).await.unwrap().unwrap().hash,
        head.hash
    );
    assert!(chain.block_at(head.number + 100).await.unwrap().is_none());
    let fees = chain.fees().await.unwrap();
    assert!(fees.base > U256::ZERO);
    let bal = chain
        .token_balance(&Address::Evm(token), &Address::Evm(OWNER))
        .await
        .unwrap();
    assert_eq!(bal, U256::ZERO);
}

#[tokio::test]
async fn signs_before_broadcast_and_tracks_the_transaction() {
    let (_anvil, chain, token) = setup().await;
    let mint = tx(
        &chain,
        token,
        mintCall {
            to: OWNER,
            amount: U256::from(5_000_000u64),
        }
        .abi_encode(),
    )
    .await;
    assert!(chain.simulate(&mint).await.unwrap().units > 21_000);
    let (id, raw) = chain.sign(&mint).unwrap();
    assert_eq!(
        chain.status(&id).await.unwrap(),
        TxStatus::Unknown,
        "not broadcast yet"
    );
    chain.broadcast(&raw).await.unwrap();
    // anvil mines on arrival; its receipt index may trail by a moment.
    let mut status = chain.status(&id).await.unwrap();
    for _ in 0..40 {
        if matches!(status, TxStatus::Included { .. }) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        status = chain.status(&id).await.unwrap();
    }
    match status {
        TxStatus::Included { success, block } => {
            assert!(success);
            assert_eq!(
                chain.block_at(block.number).await.unwrap().unwrap().hash,
                block.hash
            );
        }
        other => panic!("expected inclusion, got {other:?}"),
    }
    let bal = chain
        .token_balance(&Address::Evm(token), &Address::Evm(OWNER))
        .await
        .unwrap();
    assert_eq!(bal, U256::from(5_000_000u64));
    assert_eq!(chain.nonce(false).await.unwrap(), mint.nonce + 1);
}

#[tokio::test]
async fn a_reverting_transaction_fails_simulation_with_its_reason() {
    let (_anvil, chain, token) = setup().await;
    let overdraw = tx(
        &chain,
        token,
        transferCall {
            to: address!("00000000000000000000000000000000000000aa"),
            amount: U256::from(1u8),
        }
        .abi_encode(),
    )
    .await;
    match chain.simulate(&overdraw).await {
        Err(ChainError::WouldRevert(msg)) => {
            assert!(msg.to_lowercase().contains("revert"), "{msg}")
        }
        other => panic!("expected a revert, got {other:?}"),
    }
    assert_eq!(
        chain.status(&TxId(vec![7u8; 32])).await.unwrap(),
        TxStatus::Unknown
    );
    assert!(matches!(
        chain.status(&TxId(vec![1, 2])).await,
        Err(ChainError::Malformed(_))
    ));
}

#[tokio::test]
async fn an_unreachable_node_is_a_retryable_transport_error() {
    let chain = EvmChain::connect(
        "http://127.0.0.1:9",
        1,
        Finality::Blocks { blocks: 1 },
        DEV_KEY,
    )
    .unwrap();
    let e = chain.head().await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
}

#[tokio::test]
async fn the_same_adapter_works_over_websocket() {
    let (anvil, http, token) = setup().await;
    let ws_url = anvil.url.replace("http://", "ws://");
    let ws = EvmChain::open(&ws_url, 31337, Finality::Blocks { blocks: 2 }, DEV_KEY)
        .await
        .unwrap();
    // Send over WebSocket, read back over both transports.
    let t = tx(
        &ws,
        token,
        mintCall {
            to: OWNER,
            amount: U256::from(42u8),
        }
        .abi_encode(),
    )
    .await;
    let id = ws.submit(&t).await.unwrap();
    let mut status = TxStatus::Unknown;
    for _ in 0..100 {
        status = ws.status(&id).await.unwrap();
        if matches!(status, TxStatus::Included { .. }) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        matches!(status, TxStatus::Included { success: true, .. }),
        "{status:?}"
    );
    assert_eq!(ws.head().await.unwrap(), http.head().await.unwrap());
    let balance = ws
        .token_balance(&Address::Evm(token), &Address::Evm(OWNER))
        .await
        .unwrap();
    assert_eq!(balance, U256::from(42u8));
    assert!(ws.fees().await.unwrap().base > U256::ZERO);
}
