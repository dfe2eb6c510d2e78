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
#[derive(Debug)]
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
        let this = &self;
        periodically(self.every, shutdown, || async {
            match this.read().await {
                Ok(r) => {
                    model.record_chain(this.chain, r);
                }
                Err(e) => tracing::warn!(chain = this.chain.0, error = %e, "chain probe failed; reading ages"),
            }
        })
        .await;
    }
}

/// Reads a bridge's destination liquidity: the token balance its
/// destination-side contract holds, valued in USD.
#[derive(Debug)]
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
