//! `switchyard bench solana`: what a payout costs on a real local Solana
//! validator, batched by the generic lane against one transfer per
//! transaction, and what the lane adds per transaction.
//!
//! - `batched, new accounts`: N fresh recipients (each gets its associated
//!   token account created, rent paid by the hot wallet), as many per
//!   transaction as fit.
//! - `batched, existing accounts`: N recipients whose token accounts exist.
//! - `one per transaction`: the same two cases, one transfer each (fewer
//!   recipients: it is the slow case).
//!
//! Lamports per recipient are read from the hot wallet's SOL balance
//! before and after (fees, priority fees and rent). The lane's overhead per
//! transaction: the signing, the write-ahead commit (one fsync'd SQLite
//! transaction) and the RPC calls the lane makes until the transaction is
//! final.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eyre::WrapErr;
use serde::Serialize;
use switchyard_chains::solana::local::LocalValidator;
use switchyard_chains::solana::{
    SolanaChain, SolanaFeePolicy, SolanaKeypair, SolanaSigner, new_wallet, setup,
};
use switchyard_core::address::ChainKind;
use switchyard_core::chain::vm::{
    AttemptStatus, Fence, PayoutLine, SignedAttempt, VmFuture, VmLane, VmPayouts,
};
use switchyard_core::chain::{BlockRef, ChainError, FeeLevels, Simulation, TxId};
use switchyard_relayer::vmlane::GenericLane;
use switchyard_relayer::{IntentState, Store};

use crate::Failure;
use crate::cli::BenchSolanaArgs;

/// One payout pattern's cost.
#[derive(Debug, Serialize)]
pub struct Case {
    /// What was paid.
    pub name: String,
    /// Recipients paid.
    pub recipients: usize,
    /// Transactions used.
    pub transactions: usize,
    /// Recipients per transaction, mean.
    pub per_tx: f64,
    /// Lamports the hot wallet spent per recipient (fees + rent).
    pub lamports_per_recipient: u64,
    /// Of which rent of a created token account.
    pub rent_per_recipient: u64,
    /// Seconds until every transaction was final.
    pub seconds_to_final: f64,
}

/// The report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The cases.
    pub cases: Vec<Case>,
    /// Mean µs to sign one payout transaction (offline).
    pub sign_us: f64,
    /// Mean µs of one write-ahead commit (an fsync'd SQLite transaction).
    pub store_commit_us: f64,
    /// RPC calls the lane made per transaction, reserve to final.
    pub rpc_calls_per_tx: f64,
}

/// Counts the lane's calls into the adapter.
struct Counting {
    inner: Arc<SolanaChain>,
    calls: AtomicU64,
}

impl Counting {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

impl VmLane for Counting {
    fn kind(&self) -> ChainKind {
        ChainKind::Solana
    }
    fn sender(&self) -> String {
        self.inner.sender()
    }
    fn fresh_fence(&self) -> VmFuture<'_, Fence> {
        self.count();
        self.inner.fresh_fence()
    }
    fn simulate<'a>(&'a self, payload: &'a [u8]) -> VmFuture<'a, Simulation> {
        self.count();
        self.inner.simulate(payload)
    }
    fn fees(&self) -> VmFuture<'_, FeeLevels> {
        self.count();
        VmLane::fees(self.inner.as_ref())
    }
    fn sign<'a>(
        &'a self,
        payload: &'a [u8],
        fence: &'a Fence,
        fees: &'a FeeLevels,
    ) -> VmFuture<'a, SignedAttempt> {
        self.inner.sign(payload, fence, fees)
    }
    fn broadcast<'a>(&'a self, raw: &'a [u8]) -> VmFuture<'a, ()> {
        self.count();
        self.inner.broadcast(raw)
    }
    fn status<'a>(&'a self, id: &'a TxId, fence: &'a Fence) -> VmFuture<'a, AttemptStatus> {
        Box::pin(async move {
            let r = self.inner.status(id, fence).await;
            // getBlockHeight and getSignatureStatuses; getBlock once seen.
            let n = if matches!(r, Ok(AttemptStatus::Included { .. })) {
                3
            } else {
                2
            };
            self.calls.fetch_add(n, Ordering::Relaxed);
            r
        })
    }
    fn block_at(&self, number: u64) -> VmFuture<'_, Option<BlockRef>> {
        self.count();
        VmLane::block_at(self.inner.as_ref(), number)
    }
}

/// Entry point.
pub fn run(args: &BenchSolanaArgs) -> Result<(), Failure> {
    if args.recipients == 0 {
        return Err(Failure::Usage(
            "invalid --recipients: must be at least 1".into(),
        ));
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
    println!("solana bench: SPL payouts on a local validator (solana-test-validator genesis)");
    println!(
        "  {:<34} {:>10} {:>6} {:>8} {:>14} {:>10} {:>8}",
        "case", "recipients", "txs", "per tx", "lamports/rcpt", "rent/rcpt", "final s"
    );
    for c in &report.cases {
        println!(
            "  {:<34} {:>10} {:>6} {:>8.1} {:>14} {:>10} {:>8.1}",
            c.name,
            c.recipients,
            c.transactions,
            c.per_tx,
            c.lamports_per_recipient,
            c.rent_per_recipient,
            c.seconds_to_final
        );
    }
    println!(
        "  lane per transaction: sign {:.0} us, write-ahead commit {:.0} us, {:.1} RPC calls to final",
        report.sign_us, report.store_commit_us, report.rpc_calls_per_tx
    );
    Ok(())
}

struct Bench {
    v: LocalValidator,
    chain: Arc<SolanaChain>,
    store: Arc<Store>,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn chain_err(e: ChainError) -> Failure {
    Failure::Runtime(eyre::eyre!("{e}"))
}

async fn measure(args: &BenchSolanaArgs) -> Result<Report, Failure> {
    let v = LocalValidator::start().await.map_err(chain_err)?;
    let rpc = v.rpc();
    let hot = Arc::new(SolanaKeypair::new());
    setup::fund(&rpc, &v.faucet, &hot.pubkey(), 1_000_000_000_000)
        .await
        .map_err(chain_err)?;
    let mint = setup::create_mint(&rpc, &v.faucet, &v.faucet.pubkey(), 6)
        .await
        .map_err(chain_err)?;
    let float = setup::ensure_token_account(&rpc, &v.faucet, &hot.pubkey(), &mint)
        .await
        .map_err(chain_err)?;
    setup::mint_to(&rpc, &v.faucet, &v.faucet, &mint, &float, u64::MAX / 4)
        .await
        .map_err(chain_err)?;
    let chain = Arc::new(
        SolanaChain::connect(&v.url, hot, mint, SolanaFeePolicy::default())
            .await
            .map_err(chain_err)?,
    );
    let dir = std::env::temp_dir().join(format!("switchyard-bench-sol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).wrap_err("temporary directory")?;
    let store =
        Arc::new(Store::open(&dir.join("bench.db")).map_err(|e| Failure::Runtime(e.into()))?);
    let b = Bench {
        v,
        chain,
        store,
        _dir: TempDir(dir),
    };
    let counting = Arc::new(Counting {
        inner: b.chain.clone(),
        calls: AtomicU64::new(0),
    });
    let n = args.recipients;
    let single = n.min(20);
    let mut cases = Vec::new();
    let mut txs = 0usize;
    // (name, recipients, their token accounts exist, batched)
    let plan = [
        ("batched, new accounts", n, false, true),
        ("batched, existing accounts", n, true, true),
        ("one per tx, new accounts", single, false, false),
        ("one per tx, existing accounts", single, true, false),
    ];
    for (name, recipients, existing, batched) in plan {
        cases.push(pay(&b, &counting, name, recipients, existing, batched, &mut txs).await?);
    }
    let calls = counting.calls.load(Ordering::Relaxed);
    let (sign_us, store_commit_us) = lane_costs(&b).await?;
    Ok(Report {
        cases,
        sign_us,
        store_commit_us,
        rpc_calls_per_tx: calls as f64 / txs.max(1) as f64,
    })
}

#[allow(clippy::too_many_arguments)]
async fn pay(
    b: &Bench,
    counting: &Arc<Counting>,
    name: &str,
    n: usize,
    existing: bool,
    batched: bool,
    txs: &mut usize,
) -> Result<Case, Failure> {
    let rpc = b.v.rpc();
    let recipients: Vec<_> = (0..n).map(|_| new_wallet()).collect();
    if existing {
        for r in &recipients {
            setup::ensure_token_account(&rpc, &b.v.faucet, r, &b.chain.mint())
                .await
                .map_err(chain_err)?;
        }
    }
    let lines: Vec<PayoutLine> = recipients
        .iter()
        .enumerate()
        .map(|(i, r)| PayoutLine {
            id: format!("{name}-{i}"),
            recipient: r.to_string(),
            amount: 1_000_000,
            memo: None,
        })
        .collect();
    let lane = GenericLane::new(b.store.clone(), "bench-sol", counting.clone());
    let before = rpc
        .get_balance(&b.chain.payer())
        .await
        .map_err(|e| chain_err(switchyard_chains::solana::classify(e)))?;
    let started = Instant::now();
    let mut keys = Vec::new();
    let mut rest = &lines[..];
    while !rest.is_empty() {
        let k = if batched {
            b.chain.fit(rest).await.map_err(chain_err)?
        } else {
            1
        };
        if k == 0 {
            return Err(Failure::Runtime(eyre::eyre!(
                "a payout does not fit a transaction"
            )));
        }
        let payload = b
            .chain
            .payout_payload(&rest[..k])
            .await
            .map_err(chain_err)?;
        let key = format!("{name}-{}", keys.len());
        lane.reserve(&key, &payload)
            .map_err(|e| Failure::Runtime(e.into()))?;
        keys.push(key);
        rest = &rest[k..];
    }
    loop {
        lane.tick().await.map_err(|e| Failure::Runtime(e.into()))?;
        let mut open = 0;
        for k in &keys {
            let i = lane.get(k).map_err(|e| Failure::Runtime(e.into()))?;
            if i.is_none_or(|i| i.state != IntentState::Final) {
                open += 1;
            }
        }
        if open == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(Failure::Runtime(eyre::eyre!(
                "{name}: {open} transactions not final in 300 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = rpc
        .get_balance(&b.chain.payer())
        .await
        .map_err(|e| chain_err(switchyard_chains::solana::classify(e)))?;
    let rent = if existing {
        0
    } else {
        b.chain.token_account_rent().await.map_err(chain_err)?
    };
    *txs += keys.len();
    let spent = before.saturating_sub(after);
    Ok(Case {
        name: name.to_owned(),
        recipients: n,
        transactions: keys.len(),
        per_tx: n as f64 / keys.len() as f64,
        lamports_per_recipient: spent / n as u64,
        rent_per_recipient: rent,
        seconds_to_final: seconds,
    })
}

/// Signing and the write-ahead commit, measured alone (no network).
async fn lane_costs(b: &Bench) -> Result<(f64, f64), Failure> {
    let line = PayoutLine {
        id: "cost".into(),
        recipient: new_wallet().to_string(),
        amount: 1,
        memo: None,
    };
    let payload = b.chain.payout_payload(&[line]).await.map_err(chain_err)?;
    let fence = b.chain.fresh_fence().await.map_err(chain_err)?;
    let fees = VmLane::fees(b.chain.as_ref()).await.map_err(chain_err)?;
    let rounds = 2_000u32;
    let t = Instant::now();
    let mut last = None;
    for _ in 0..rounds {
        last = Some(
            b.chain
                .sign(&payload, &fence, &fees)
                .await
                .map_err(chain_err)?,
        );
    }
    let sign_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    last.ok_or_else(|| Failure::Runtime(eyre::eyre!("no signature")))?;
    // One durable intent write: the same fsync'd SQLite transaction as an
    // attempt's write-ahead commit.
    let lane = GenericLane::new(b.store.clone(), "bench-cost", b.chain.clone());
    let commits = 200u32;
    let t = Instant::now();
    for i in 0..commits {
        lane.reserve(&format!("cost-{i}"), &payload)
            .map_err(|e| Failure::Runtime(e.into()))?;
    }
    let commit_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(commits);
    Ok((sign_us, commit_us))
}
