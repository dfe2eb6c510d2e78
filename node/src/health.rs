//! Observed bridge health into the model: the store's hop observations,
//! summarised per bridge over the window, published as a new snapshot
//! whenever a summary changes. The router then ranks by the estimates the
//! snapshot computes (`switchyard_core::health`); it never reads the store.
//!
//! Latencies are brought to the source chain's base finality before they
//! are summarised: a hop that waited for a deeper amount tier is recorded
//! without the tier's extra blocks, because the quote adds the tier's wait
//! for each request's own amount.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchyard_core::health::Observed;
use switchyard_core::model::NetworkSnapshot;
use switchyard_probes::ModelHandle;
use switchyard_relayer::observe::Observation;
use switchyard_relayer::store::Store;
use tokio_util::sync::CancellationToken;

use crate::tasks::off_workers;

/// Per bridge (indexed like the topology's bridges), the summary of
/// `rows`; `None` for a bridge without observations.
pub fn summarise(snapshot: &NetworkSnapshot, rows: &[Observation]) -> Vec<Option<Observed>> {
    let t = &snapshot.topology;
    let by_id: HashMap<&str, usize> = t
        .bridges()
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.as_str(), i))
        .collect();
    let mut outcomes: Vec<Vec<(bool, Option<u64>)>> = vec![Vec::new(); t.bridges().len()];
    for r in rows {
        // A bridge no longer in the topology has nothing to inform.
        let Some(&i) = by_id.get(r.bridge.as_str()) else {
            continue;
        };
        let chain = t.chain(t.asset(t.bridges()[i].from).chain);
        let extra_blocks = u64::from(r.src_blocks.saturating_sub(chain.finality.blocks()));
        let latency = r
            .latency_ms
            .map(|ms| ms.saturating_sub(extra_blocks.saturating_mul(chain.block_time_ms)));
        outcomes[i].push((r.ok, latency));
    }
    outcomes
        .into_iter()
        .map(|o| (!o.is_empty()).then(|| Observed::from_outcomes(o)))
        .collect()
}

/// Reads the window from the store and publishes what changed. Returns
/// whether a new snapshot was published.
pub fn refresh(
    store: &Store,
    model: &ModelHandle,
    now_ms: u64,
) -> switchyard_relayer::Result<bool> {
    let cur = model.current();
    let since = now_ms.saturating_sub(cur.snapshot.health.window_ms);
    let rows = store.observations_since(since)?;
    let next = summarise(&cur.snapshot, &rows);
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

/// Refreshes every `every` until `stop`; observations older than twice the
/// window are deleted once a minute.
pub async fn run(
    store: Arc<Store>,
    model: Arc<ModelHandle>,
    every: Duration,
    stop: CancellationToken,
) -> eyre::Result<()> {
    let mut last_prune = 0u64;
    loop {
        let (s, m) = (Arc::clone(&store), Arc::clone(&model));
        let now = crate::now_ms();
        let prune = now.saturating_sub(last_prune) >= 60_000;
        let done = off_workers(async move {
            if prune {
                let keep = m.current().snapshot.health.window_ms.saturating_mul(2);
                s.forget_observations_before(now.saturating_sub(keep))?;
            }
            refresh(&s, &m, now)
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
