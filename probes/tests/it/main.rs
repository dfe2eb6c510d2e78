//! Probes against real anvil nodes: readings reach the model and the
//! router, and a dead node's bridges go stale.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address as EvmAddress, U256, address};
use alloy::sol_types::SolValue;
use switchyard_chains::evm::EvmChain;
use switchyard_chains::testing::{Anvil, DEPLOYER, DEV_KEY, deploy, mint};
use switchyard_core::UsdE8;
use switchyard_core::address::Address;
use switchyard_core::finality::Finality;
use switchyard_core::model::NetworkSnapshot;
use switchyard_core::topology::{BridgeIx, ChainIx, Topology};
use switchyard_probes::ModelHandle;
use switchyard_probes::probe::{ChainProbe, LiquidityProbe, now_ms};
use switchyard_router::{QuoteParams, QuoteRequest, Reason, quote};
use tokio_util::sync::CancellationToken;

const TOPOLOGY: &str = r#"
[[chain]]
id = "a"
kind = "evm"
chain_id = 31337
finality = { blocks = 1 }
block_time_ms = 1000
native_usd_price = 1.0
[[chain]]
id = "b"
kind = "evm"
chain_id = 31338
finality = { blocks = 1 }
block_time_ms = 1000
native_usd_price = 1.0
[[asset]]
chain = "a"
symbol = "TUSD"
decimals = 6
address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
[[asset]]
chain = "b"
symbol = "TUSD"
decimals = 6
address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
[[bridge]]
id = "escrow-a-b"
protocol = "escrow"
from = "a:TUSD"
to = "b:TUSD"
fee_fixed = "0"
fee_bps = 0
eta_s = 10
success_p = 0.999
min = "0"
max_usd = "1000000"
liquidity_usd = "1000000"
"#;

fn model(stale_after_ms: u64) -> Arc<ModelHandle> {
    let mut snap = NetworkSnapshot::offline(Arc::new(Topology::from_toml(TOPOLOGY).unwrap()));
    snap.stale_after_ms = stale_after_ms;
    Arc::new(ModelHandle::new(snap))
}

fn ask(model: &ModelHandle, amount: &str) -> switchyard_router::Quote {
    let cur = model.current();
    let p = QuoteParams {
        from: "a:TUSD".into(),
        to: "b:TUSD".into(),
        amount: amount.into(),
        ..Default::default()
    };
    quote(
        &cur.graph,
        &QuoteRequest::resolve(&cur.graph, &p, 4, now_ms()).unwrap(),
    )
}

#[tokio::test]
async fn chain_readings_reach_the_model_and_a_dead_node_goes_stale() {
    let mut anvil = Anvil::start(31337);
    let m = model(700);
    let client =
        EvmChain::connect(&anvil.url, 31337, Finality::Blocks { blocks: 1 }, DEV_KEY).unwrap();
    let stop = CancellationToken::new();
    let probe = ChainProbe {
        chain: ChainIx(0),
        client,
        every: Duration::from_millis(100),
    };
    let task = tokio::spawn(probe.run(Arc::clone(&m), stop.clone()));

    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = m.current().snapshot.chains[0]
        .reading
        .clone()
        .expect("a reading");
    assert!(r.base_fee.is_some());
    assert!(now_ms() - r.observed_at_ms < 700);
    assert_eq!(ask(&m, "10").routes.len(), 1, "fresh reading: routable");

    anvil.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let q = ask(&m, "10");
    assert!(q.routes.is_empty(), "stale chain must not be routed");
    assert_eq!(q.excluded[0].reason, Reason::StaleReading);
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn live_liquidity_caps_what_a_bridge_may_carry() {
    let anvil = Anvil::start(31338);
    let p = anvil.provider(DEV_KEY);
    let token = deploy(&p, "TestUSD", DEPLOYER.abi_encode()).await;
    let holder: EvmAddress = address!("000000000000000000000000000000000000e5c0");
    mint(&p, token, holder, U256::from(1_000_000_000u64)).await;

    let m = model(60_000);
    let probe = LiquidityProbe {
        bridge: BridgeIx(0),
        client: EvmChain::connect(&anvil.url, 31338, Finality::Blocks { blocks: 1 }, DEV_KEY)
            .unwrap(),
        token: Address::Evm(token),
        holder: Address::Evm(holder),
        decimals: 6,
        usd_price: UsdE8::from_price("p", 1.0).unwrap(),
        every: Duration::from_secs(60),
    };
    let reading = probe.read().await.unwrap();
    assert_eq!(
        reading.liquidity_usd,
        Some(UsdE8::parse("x", "1000").unwrap())
    );
    m.record_bridge(BridgeIx(0), reading);

    assert_eq!(ask(&m, "999").routes.len(), 1);
    let q = ask(&m, "1001");
    assert!(q.routes.is_empty());
    assert_eq!(q.excluded[0].reason, Reason::OverLiquidity);
}

#[tokio::test]
async fn a_head_that_stops_moving_trips_the_chain_breaker_and_takes_its_bridges_out() {
    use switchyard_core::model::BreakerState;
    use switchyard_probes::breaker::{BreakerPolicy, Breakers};
    // No mining: the node answers, its head never moves.
    let anvil = Anvil::start_with(31337, &["--no-mining"]);
    let m = model(60_000);
    let breakers = Arc::new(Breakers::new(BreakerPolicy::default(), Arc::clone(&m)));
    let client =
        EvmChain::connect(&anvil.url, 31337, Finality::Blocks { blocks: 1 }, DEV_KEY).unwrap();
    let stop = CancellationToken::new();
    let probe = ChainProbe {
        chain: ChainIx(0),
        client,
        every: Duration::from_millis(100),
    };
    let task = tokio::spawn(probe.run_with(
        Arc::clone(&m),
        Some(Arc::clone(&breakers)),
        800,
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ask(&m, "10").routes.len(), 1, "moving enough so far");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let state = m.current().snapshot.chains[0].breaker.clone();
    assert!(
        matches!(&state, BreakerState::Open { reason } if reason.contains("head frozen at 0")),
        "{state:?}"
    );
    let q = ask(&m, "10");
    assert!(q.routes.is_empty());
    assert_eq!(q.excluded[0].reason, Reason::BreakerOpen);
    stop.cancel();
    task.await.unwrap();
}
