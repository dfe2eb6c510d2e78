//! Probes: periodic readings of chains and bridges, published into the
//! [`ModelHandle`].
//!
//! A probe that cannot read leaves the previous reading in place, so its
//! age grows; once older than the model's `stale_after_ms`, every bridge
//! that depends on it leaves routing with reason `stale_reading`. Transient
//! failures (transport, rate limits) are retried with exponential backoff
//! (`backon`) within one round; others are logged and the round skipped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use switchyard_core::address::Address;
use switchyard_core::chain::{ChainError, ChainReader, ChainResult};
use switchyard_core::model::{BridgeReading, ChainReading};
use switchyard_core::topology::{BridgeIx, ChainIx};
use switchyard_core::{Amount, UsdE8};
use tokio_util::sync::CancellationToken;

use crate::ModelHandle;
use crate::breaker::{Breakers, Subject};

pub use switchyard_core::now_ms;

/// Runs `call` with up to three retries for retryable errors.
async fn retried<T, F, Fut>(call: F) -> ChainResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ChainResult<T>>,
{
    call.retry(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_millis(500))
            .with_max_times(3),
    )
    .when(ChainError::is_retryable)
    .await
}

/// Runs `round` at once and then every `period` until `shutdown`; a round
/// that overruns skips the ticks it missed rather than bunching them.
async fn periodically<F, Fut>(period: Duration, shutdown: CancellationToken, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        round().await;
    }
}

/// Reads a chain's head, finalized head and fees.
#[derive(Debug, Clone)]
pub struct ChainProbe<C> {
    /// Which chain of the topology.
    pub chain: ChainIx,
    /// Its adapter.
    pub client: C,
    /// Time between readings.
    pub every: Duration,
}

impl<C: ChainReader> ChainProbe<C> {
    /// One reading. The head is required; finality and fees are best effort.
    pub async fn read(&self) -> ChainResult<ChainReading> {
        let head = retried(|| self.client.head()).await?;
        let finalized = retried(|| self.client.finalized_head()).await.ok();
        let fees = retried(|| self.client.fees()).await.ok();
        Ok(ChainReading {
            observed_at_ms: now_ms(),
            head: head.number,
            finalized: finalized.map(|b| b.number),
            head_time_s: head.timestamp_s,
            base_fee: fees.as_ref().map(|f| f.base),
            priority_fee: fees.map(|f| f.priority),
        })
    }

    /// Reads every `every` until `shutdown`, publishing each reading.
    pub async fn run(self, model: Arc<ModelHandle>, shutdown: CancellationToken) {
        self.run_with(model, None, 0, shutdown).await;
    }

    /// [`ChainProbe::run`], also feeding the chain's breaker: each reading
    /// is a success, each failed read a failure, and a head that has not
    /// moved for `frozen_ms` (0: never) trips it.
    pub async fn run_with(
        self,
        model: Arc<ModelHandle>,
        breakers: Option<Arc<Breakers>>,
        frozen_ms: u64,
        shutdown: CancellationToken,
    ) {
        let this = &self;
        let last: std::sync::Mutex<Option<(u64, u64)>> = std::sync::Mutex::new(None);
        let subject = Subject::Chain(this.chain);
        // A round that cannot finish in twice the period (1-10 s) is a
        // failure: a frozen node must trip the breaker within seconds,
        // not after every retry has timed out.
        let deadline = (self.every * 2).clamp(Duration::from_secs(1), Duration::from_secs(10));
        periodically(self.every, shutdown, || async {
            let outcome = match tokio::time::timeout(deadline, this.read()).await {
                Ok(r) => r,
                Err(_) => Err(ChainError::Transport(format!(
                    "no answer within {} ms",
                    deadline.as_millis()
                ))),
            };
            if let Some(b) = &breakers {
                b.refresh();
            }
            match outcome {
                Ok(r) => {
                    let head = r.head;
                    model.record_chain(this.chain, r);
                    let Some(b) = &breakers else { return };
                    let now = now_ms();
                    let mut last = last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let since = match *last {
                        Some((h, since)) if h == head => since,
                        _ => now,
                    };
                    *last = Some((head, since));
                    let still = now.saturating_sub(since);
                    if frozen_ms > 0 && still >= frozen_ms {
                        b.trip(subject, &format!("head frozen at {head} for {} s", still / 1000));
                    } else {
                        b.record(subject, true, "");
                    }
                }
                Err(e) => {
                    tracing::warn!(chain = this.chain.0, error = %e, "chain probe failed; reading ages");
                    if let Some(b) = &breakers {
                        b.record(subject, false, &e.to_string());
                    }
                }
            }
        })
        .await;
    }
}

/// Reads a bridge's destination liquidity: the token balance its
/// destination-side contract holds, valued in USD.
#[derive(Debug, Clone)]
pub struct LiquidityProbe<C> {
    /// Which bridge.
    pub bridge: BridgeIx,
    /// Adapter of the bridge's destination chain.
    pub client: C,
    /// Token paid out on the destination.
    pub token: Address,
    /// Contract holding the liquidity.
    pub holder: Address,
    /// Token decimals.
    pub decimals: u8,
    /// Token price.
    pub usd_price: UsdE8,
    /// Time between readings.
    pub every: Duration,
}

impl<C: ChainReader> LiquidityProbe<C> {
    /// One reading.
    pub async fn read(&self) -> ChainResult<BridgeReading> {
        let balance = retried(|| self.client.token_balance(&self.token, &self.holder)).await?;
        let usd = Amount::from_raw(balance, self.decimals)
            .usd_value(self.usd_price)
            .ok_or_else(|| ChainError::Malformed("liquidity does not fit 256 bits".into()))?;
        Ok(BridgeReading {
            observed_at_ms: now_ms(),
            liquidity_usd: Some(usd),
            ..BridgeReading::default()
        })
    }

    /// Reads every `every` until `shutdown`, publishing each reading.
    pub async fn run(self, model: Arc<ModelHandle>, shutdown: CancellationToken) {
        let this = &self;
        periodically(self.every, shutdown, || async {
            match this.read().await {
                Ok(r) => {
                    model.record_bridge(this.bridge, r);
                }
                Err(e) => tracing::warn!(bridge = this.bridge.0, error = %e, "liquidity probe failed; reading ages"),
            }
        })
        .await;
    }
}
