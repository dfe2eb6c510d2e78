//! `switchyard bench relayer`: what the relayer's safety costs per
//! transaction, on a local anvil (instant mining, so the node's own time
//! is as small as it gets and the relayer's share is visible).
//!
//! Three measurements over the same kind of transaction (a plain value
//! transfer, fresh recipient each):
//! - `store`: write-ahead reservation alone (one SQLite commit with
//!   `synchronous=FULL`, i.e. one fsync).
//! - `baseline`: sign locally, broadcast, poll the receipt; nothing stored,
//!   nothing simulated.
//! - `relayer`: the lane's full lifecycle to finality (reserve, simulate,
//!   price, sign, store the attempt, broadcast, record, receipt, finality
//!   re-check of the block hash).
//!
//! Overhead per transaction = (relayer - baseline) / transactions.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address as EvmAddress, Bytes, U256};
use eyre::{WrapErr, eyre};
use serde::Serialize;
use switchyard_chains::evm::{EvmChain, EvmTx};
use switchyard_core::chain::{ChainReader, TxStatus, TxSubmitter};
use switchyard_core::fees::FeePolicy;
use switchyard_core::finality::Finality;
use switchyard_relayer::{Call, Lane, Store};

use crate::Failure;
use crate::cli::BenchRelayerArgs;

/// anvil accounts 3 and 4: one for the baseline, one for the lane.
const BASELINE_KEY: &str = "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const LANE_KEY: &str = "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";

/// The report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Transactions per measurement.
    pub txs: usize,
    /// Mean µs of one durable reservation.
    pub store_reserve_us: f64,
    /// Mean ms per transaction, sign + broadcast + receipt.
    pub baseline_ms_per_tx: f64,
    /// Mean ms per transaction through the lane to finality.
    pub relayer_ms_per_tx: f64,
    /// Difference per transaction, ms.
    pub overhead_ms_per_tx: f64,
    /// Lane ticks needed for all transactions.
    pub ticks: usize,
    /// Store size after the run, bytes per transaction.
    pub store_bytes_per_tx: f64,
}

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Entry point.
pub fn run(args: &BenchRelayerArgs) -> Result<(), Failure> {
    if args.txs == 0 {
        return Err(Failure::Usage("invalid --txs: must be at least 1".into()));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    let report = rt.block_on(measure(args))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Runtime(e.into()))?
        );
        return Ok(());
    }
    println!(
        "relayer bench: {} value transfers per run, local anvil (instant mining)",
        report.txs
    );
    println!(
        "  durable reservation (1 fsync'd commit)  {:>9.1} us/tx",
        report.store_reserve_us
    );
    println!(
        "  baseline: sign, broadcast, receipt      {:>9.2} ms/tx",
        report.baseline_ms_per_tx
    );
    println!(
        "  lane: full lifecycle to finality        {:>9.2} ms/tx ({} ticks)",
        report.relayer_ms_per_tx, report.ticks
    );
    println!(
        "  relayer overhead                        {:>9.2} ms/tx",
        report.overhead_ms_per_tx
    );
    println!(
        "  store growth                            {:>9.0} bytes/tx",
        report.store_bytes_per_tx
    );
    Ok(())
}

async fn measure(args: &BenchRelayerArgs) -> Result<Report, Failure> {
    let mut child = Command::new(&args.anvil)
        .args(["--port", "0", "--chain-id", "31337"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .wrap_err_with(|| format!("starting {} (run scripts/setup)", args.anvil.display()))?;
    let stdout = child.stdout.take();
    let _node = Node(child);
    let port = crate::devnet::listening_port(
        stdout.ok_or_else(|| Failure::Runtime(eyre!("anvil stdout not captured")))?,
    )
    .await?;
    let url = format!("http://127.0.0.1:{port}");
    let one = Finality::Blocks { blocks: 1 };
    let err = |e: switchyard_core::chain::ChainError| Failure::Runtime(eyre!("{e}"));
    let rerr = |e: switchyard_relayer::Error| Failure::Runtime(eyre!("{e}"));
    let n = args.txs;
    let recipient = |base: u64, i: usize| EvmAddress::from_word(U256::from(base + i as u64).into());

    // Baseline.
    let chain = EvmChain::connect(&url, 31337, one, BASELINE_KEY).map_err(err)?;
    let t0 = Instant::now();
    let mut nonce = chain.nonce(true).await.map_err(err)?;
    for i in 0..n {
        let fees = chain.fees().await.map_err(err)?;
        let base = u128::try_from(fees.base).unwrap_or(u128::MAX);
        let tx = EvmTx {
            to: recipient(1 << 40, i),
            data: Bytes::new(),
            value: U256::from(1u8),
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: base.saturating_mul(2).saturating_add(1_000_000_000),
            max_priority_fee_per_gas: 1_000_000_000,
        };
        nonce += 1;
        let id = chain.submit(&tx).await.map_err(err)?;
        while !matches!(
            chain.status(&id).await.map_err(err)?,
            TxStatus::Included { .. }
        ) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let baseline = t0.elapsed();

    // Store alone.
    let dir = std::env::temp_dir().join(format!("sy-bench-relayer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bench.db");
    let store = Arc::new(Store::open(&path).map_err(rerr)?);
    let lane_chain = EvmChain::connect(&url, 31337, one, LANE_KEY).map_err(err)?;
    let scratch = Lane::open(
        Arc::clone(&store),
        1,
        EvmAddress::repeat_byte(0xee),
        FeePolicy::default(),
    )
    .map_err(rerr)?;
    let call = |i: usize| Call {
        to: recipient(2 << 40, i),
        data: Vec::new(),
        value: U256::from(1u8),
        gas_limit: Some(21_000),
    };
    let t0 = Instant::now();
    for i in 0..n {
        scratch
            .reserve(&format!("bench:{i}"), &call(i), one)
            .map_err(rerr)?;
    }
    let store_us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;

    // The lane, one transaction at a time like the baseline.
    let lane = Lane::open(
        Arc::clone(&store),
        31337,
        lane_chain.sender(),
        FeePolicy::default(),
    )
    .map_err(rerr)?;
    store.checkpoint().map_err(rerr)?;
    let size0 = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let t0 = Instant::now();
    let mut ticks = 0;
    for i in 0..n {
        lane.reserve(&format!("bench:{i}"), &call(n + i), one)
            .map_err(rerr)?;
        loop {
            lane.tick(&lane_chain).await.map_err(rerr)?;
            ticks += 1;
            if lane.open_records().map_err(rerr)?.is_empty() {
                break;
            }
        }
    }
    let relayer = t0.elapsed();
    store.checkpoint().map_err(rerr)?;
    let size1 = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    let per = |d: Duration| d.as_secs_f64() * 1e3 / n as f64;
    Ok(Report {
        txs: n,
        store_reserve_us: store_us,
        baseline_ms_per_tx: per(baseline),
        relayer_ms_per_tx: per(relayer),
        overhead_ms_per_tx: per(relayer) - per(baseline),
        ticks,
        store_bytes_per_tx: size1.saturating_sub(size0) as f64 / n as f64,
    })
}
