//! Observed bridge health into the model: the store's hop observations
//! over the window, and the hops under way, summarised per bridge and
//! published as a new snapshot whenever a summary changes. The router then
//! ranks by the estimates the snapshot computes
//! (`switchyard_core::health`); it never reads the store.
//!
//! The window is kept in memory and followed through the log's sequence
//! numbers: each refresh reads only the observations written since the
//! last one (usually none) and the hops under way (a handful).
//!
//! Latencies are brought to the chains' base finality before they are
//! summarised: a hop that waited for deeper amount tiers (at its deposit,
//! at its release) counts without their extra blocks, because the quote
//! adds the tiers for each request's own amount.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchyard_core::Finality;
use switchyard_core::health::Observed;
use switchyard_core::model::NetworkSnapshot;
use switchyard_core::topology::{BridgeIx, ChainIx};
use switchyard_probes::ModelHandle;
use switchyard_relayer::observe::{InFlight, Observation};
use switchyard_relayer::store::Store;
use tokio_util::sync::CancellationToken;

use crate::tasks::off_workers;

/// Milliseconds the tiers of `(src, dst)` add to bridge `b`'s base
/// finality at both ends, by the latest chain readings.
fn tier_extra_ms(snapshot: &NetworkSnapshot, b: BridgeIx, src: Finality, dst: Finality) -> u64 {
    let t = &snapshot.topology;
    let br = t.bridge(b);
    let extra = |chain: ChainIx, rule: Finality| {
        let c = t.chain(chain);
        let lag = snapshot.chains[chain.ix()]
            .reading
            .as_ref()
            .and_then(|r| r.finalized.map(|f| r.head.saturating_sub(f)));
        c.extra_wait_blocks(rule, lag)
            .0
            .saturating_mul(c.block_time_ms)
    };
    extra(t.asset(br.from).chain, src).saturating_add(extra(t.asset(br.to).chain, dst))
}

/// Per bridge (indexed like the topology's bridges), the summary of the
/// ended hops `rows` (those at or after `since_ms`) and of the hops under
/// way at `now_ms`; `None` for a bridge with neither.
pub fn summarise(
    snapshot: &NetworkSnapshot,
    rows: &[Observation],
    in_flight: &[InFlight],
    since_ms: u64,
    now_ms: u64,
) -> Vec<Option<Observed>> {
    let t = &snapshot.topology;
    let by_id: HashMap<&str, usize> = t
        .bridges()
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.as_str(), i))
        .collect();
    let ix = |id: &str| {
        // A bridge no longer in the topology has nothing to inform.
        by_id
            .get(id)
            .and_then(|&i| u32::try_from(i).ok())
            .map(BridgeIx)
    };
    let n = t.bridges().len();
    let mut ended: Vec<Vec<(bool, Option<u64>)>> = vec![Vec::new(); n];
    for r in rows.iter().filter(|r| r.at_ms >= since_ms) {
        let Some(b) = ix(&r.bridge) else { continue };
        let extra = tier_extra_ms(snapshot, b, r.src_finality, r.dst_finality);
        ended[b.ix()].push((r.ok, r.latency_ms.map(|ms| ms.saturating_sub(extra))));
    }
    let mut ages: Vec<Vec<u64>> = vec![Vec::new(); n];
    for h in in_flight {
        let Some(b) = ix(&h.bridge) else { continue };
        let extra = tier_extra_ms(snapshot, b, h.src_finality, h.dst_finality);
        ages[b.ix()].push(now_ms.saturating_sub(h.started_ms).saturating_sub(extra));
    }
    (0..n)
        .map(|i| {
            if ended[i].is_empty() && ages[i].is_empty() {
                return None;
            }
            let live = &snapshot.bridges[i];
            let prior_eta = live
                .reading
                .as_ref()
                .and_then(|r| r.eta_s)
                .unwrap_or(t.bridges()[i].eta_s);
            Some(Observed::from_evidence(
                &ended[i],
                &ages[i],
                prior_eta,
                snapshot.health.min_latency_samples,
            ))
        })
        .collect()
}

/// The observations of the window, followed through the log.
#[derive(Debug, Default)]
pub struct Window {
    rows: Vec<Observation>,
    seq: i64,
}

impl Window {
    /// Reads what the log gained, drops what left the window, adds the hops
    /// under way, and publishes what changed. Returns whether a new
    /// snapshot was published.
    pub fn refresh(
        &mut self,
        store: &Store,
        model: &ModelHandle,
        now_ms: u64,
    ) -> switchyard_relayer::Result<bool> {
        let cur = model.current();
        let since = now_ms.saturating_sub(cur.snapshot.health.window_ms);
        let new = store.observations_after(self.seq, since)?;
        if let Some(last) = new.last() {
            self.seq = last.seq;
        }
        self.rows.extend(new);
        self.rows.retain(|r| r.at_ms >= since);
        let in_flight = store.hops_in_flight()?;
        let next = summarise(&cur.snapshot, &self.rows, &in_flight, since, now_ms);
        let same = cur
            .snapshot
            .bridges
            .iter()
            .map(|b| b.observed)
            .eq(next.iter().copied());
        if same {
            return Ok(false);
        }
        model.update(|s| {
            for (b, o) in s.bridges.iter_mut().zip(&next) {
                b.observed = *o;
            }
        });
        Ok(true)
    }
}

/// Refreshes every `every` until `stop`; observations older than twice the
/// window are deleted once a minute.
pub async fn run(
    store: Arc<Store>,
    model: Arc<ModelHandle>,
    every: Duration,
    stop: CancellationToken,
) -> eyre::Result<()> {
    let window = Arc::new(std::sync::Mutex::new(Window::default()));
    let mut last_prune = 0u64;
    loop {
        let (s, m, w) = (Arc::clone(&store), Arc::clone(&model), Arc::clone(&window));
        let now = crate::now_ms();
        let prune = now.saturating_sub(last_prune) >= 60_000;
        let done = off_workers(async move {
            if prune {
                let keep = m.current().snapshot.health.window_ms.saturating_mul(2);
                s.forget_observations_before(now.saturating_sub(keep))?;
            }
            let mut w = w.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            w.refresh(&s, &m, now)
        })
        .await?;
        match done {
            Ok(_) if prune => last_prune = now,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "bridge observations not read; estimates kept"),
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::model::ChainReading;
    use switchyard_core::topology::Topology;

    const T: &str = r#"
[[chain]]
id = "a"
kind = "evm"
chain_id = 1
finality = { blocks = 2 }
block_time_ms = 1000
native_usd_price = 1.0
confirmations = [{ min_usd = "10000", finality = { blocks = 12 } }]
[[chain]]
id = "b"
kind = "evm"
chain_id = 2
finality = { tag = "finalized" }
block_time_ms = 500
native_usd_price = 1.0
confirmations = [{ min_usd = "10000", finality = { blocks = 40 } }]
[[asset]]
chain = "a"
symbol = "USDT"
decimals = 6
address = "0x0000000000000000000000000000000000000001"
[[asset]]
chain = "b"
symbol = "USDT"
decimals = 6
address = "0x0000000000000000000000000000000000000002"
[[bridge]]
id = "ab"
protocol = "escrow"
from = "a:USDT"
to = "b:USDT"
fee_fixed = "0"
fee_bps = 5
eta_s = 20
success_p = 0.99
min = "0"
max_usd = "1000000"
liquidity_usd = "1000000"
"#;

    const SMALL_A: Finality = Finality::Blocks { blocks: 2 };
    const LARGE_A: Finality = Finality::Blocks { blocks: 12 };
    const SMALL_B: Finality = Finality::Tag {
        tag: switchyard_core::finality::BlockTag::Finalized,
    };
    const LARGE_B: Finality = Finality::Blocks { blocks: 40 };

    fn snapshot() -> NetworkSnapshot {
        let mut s = NetworkSnapshot::offline(Arc::new(Topology::from_toml(T).unwrap()));
        s.health.min_latency_samples = 3;
        // b's finalized block trails its head by 32 blocks.
        s.chains[1].reading = Some(ChainReading {
            head: 1_000,
            finalized: Some(968),
            ..ChainReading::default()
        });
        s
    }

    fn ended(ok: bool, latency_ms: Option<u64>, large: bool, at_ms: u64) -> Observation {
        Observation {
            seq: 0,
            bridge: "ab".into(),
            ok,
            latency_ms,
            src_finality: if large { LARGE_A } else { SMALL_A },
            dst_finality: if large { LARGE_B } else { SMALL_B },
            at_ms,
        }
    }

    #[test]
    fn large_hops_count_without_their_tiers_extra_wait() {
        let s = snapshot();
        // Deposit tier on a: 10 more blocks of 1 s; release tier on b: 40
        // blocks against a 32-block tag lag, 7 more of 0.5 s.
        let rows = [
            ended(true, Some(30_000), false, 10),
            ended(true, Some(30_000 + 10_000 + 3_500), true, 10),
            ended(true, Some(31_000), false, 10),
            ended(false, None, true, 10),
            ended(true, Some(99_000), false, 5), // before the window
            Observation {
                bridge: "gone".into(),
                ..ended(true, Some(5_000), false, 10)
            },
        ];
        let o = summarise(&s, &rows, &[], 10, 100)[0].unwrap();
        assert_eq!((o.attempts, o.successes, o.latency_samples), (4, 3, 3));
        assert_eq!((o.latency_p50_s, o.latency_p95_s), (Some(30), Some(31)));
        let e = s.effective(BridgeIx(0));
        assert_eq!(e.eta_s, 20, "not published into this snapshot");
    }

    #[test]
    fn a_bridge_whose_hops_hang_gets_slow_while_they_hang() {
        let s = snapshot();
        let stuck = |started_ms| InFlight {
            bridge: "ab".into(),
            started_ms,
            src_finality: SMALL_A,
            dst_finality: SMALL_B,
        };
        let now = 1_000_000;
        let young = [stuck(now - 1_000)];
        assert_eq!(summarise(&s, &[], &young, 0, now)[0].unwrap().censored, 0);
        let hung = [
            stuck(now - 300_000),
            stuck(now - 310_000),
            stuck(now - 320_000),
        ];
        let o = summarise(&s, &[], &hung, 0, now)[0].unwrap();
        assert_eq!((o.in_flight, o.censored, o.attempts), (3, 3, 0));
        assert_eq!(o.latency_p50_s, Some(310));
        let mut s = s;
        s.bridges[0].observed = Some(o);
        let e = s.effective(BridgeIx(0));
        assert_eq!((e.eta_s, e.success_p), (310, 0.99));
        assert!(
            summarise(&s, &[], &[], 0, now)[0].is_none(),
            "nothing: priors"
        );
    }
}
