//! `ops_view` and `ops_subscribe`: everything the operators' console shows,
//! read from the network model (chains, bridges, breakers), the endpoints,
//! and the store (pauses, queues, lanes, transfers, approvals, budgets).
//! A daemon that only quotes shows its chains and bridges; the sections
//! the relayer owns are empty.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jsonrpsee::types::ErrorObjectOwned;
use serde_json::Value;
use switchyard_api::console::{
    ApprovalRow, BreakerRow, BridgeRow, ChainRow, ChangeRow, EndpointRow, GovernorRow, LaneRow,
    LaneTx, Limits, MerchantRow, OpsUpdate, OpsView, QueueCount, QueueSample, Queues,
};
use switchyard_core::model::BreakerState;
use switchyard_core::topology::{BridgeIx, Topology};
use switchyard_core::{U256, UsdE8};
use switchyard_relayer::PayoutState;

use super::AppState;
use super::errors;

/// Samples of payout counts kept for the console's chart.
pub const HISTORY_LEN: usize = 900;
/// How often they are taken.
pub const HISTORY_EVERY: Duration = Duration::from_secs(2);
/// How often a subscription looks for changes.
pub const FEED_EVERY: Duration = Duration::from_millis(500);
/// The window of the flow shown for merchants without a budget.
const MERCHANT_WINDOW_MS: u64 = 24 * 3_600_000;

/// The chart's samples, newest last.
pub type History = Arc<Mutex<VecDeque<QueueSample>>>;

fn breaker(b: &BreakerState) -> BreakerRow {
    match b {
        BreakerState::Closed => BreakerRow {
            state: "closed".into(),
            reason: None,
        },
        BreakerState::Open { reason } => BreakerRow {
            state: "open".into(),
            reason: Some(reason.clone()),
        },
        BreakerState::HalfOpen => BreakerRow {
            state: "half_open".into(),
            reason: None,
        },
    }
}

fn basis(b: switchyard_core::health::Basis) -> String {
    match b {
        switchyard_core::health::Basis::Prior => "prior".into(),
        switchyard_core::health::Basis::Observed => "observed".into(),
    }
}

/// A USD figure; the largest value is what an unpriced item is stored as.
fn usd(e8: U256) -> String {
    if e8 == U256::MAX {
        "unpriced".into()
    } else {
        UsdE8(e8).to_string()
    }
}

/// The topology's name of an EVM chain id.
/// The name of the chain of `chain_id`: an EVM chain id, or a bridge
/// domain (the governor's key of a chain without one).
fn chain_name(t: &Topology, chain_id: i64) -> String {
    t.chains()
        .iter()
        .find(|c| {
            c.chain_id.and_then(|id| i64::try_from(id).ok()) == Some(chain_id)
                || i64::try_from(c.bridge_domain()).ok() == Some(chain_id)
        })
        .map_or_else(|| format!("chain {chain_id}"), |c| c.id.to_string())
}

impl AppState {
    /// `ops_view`.
    pub fn ops_view(&self) -> Result<OpsView, ErrorObjectOwned> {
        let internal = |e: switchyard_relayer::Error| errors::internal(&e.to_string());
        let cur = self.model.current();
        let snap = &cur.snapshot;
        let t = &snap.topology;
        let now = crate::now_ms();
        let engine = self.engine.as_ref();
        let pauses = match engine {
            Some(e) => e.ops.pauses().map_err(internal)?,
            None => Vec::new(),
        };
        let changes: Vec<ChangeRow> = match engine {
            Some(e) => e.store.last_pause_changes().map_err(internal)?,
            None => Vec::new(),
        };
        let paused = |kind: &str, target: &str| {
            pauses
                .iter()
                .find(|p| p.kind == kind && p.target == target)
                .cloned()
        };
        let changed = |kind: &str, target: &str| {
            changes
                .iter()
                .find(|c| c.kind == kind && c.target == target)
                .cloned()
        };
        let chains = t
            .chains()
            .iter()
            .zip(&snap.chains)
            .map(|(c, live)| {
                let id = c.id.to_string();
                let r = live.reading.as_ref();
                let age = r.map(|r| now.saturating_sub(r.observed_at_ms));
                let endpoints = self
                    .endpoints
                    .iter()
                    .find(|(chain, _)| *chain == id)
                    .map(|(_, e)| {
                        e.views()
                            .into_iter()
                            .map(|v| EndpointRow {
                                url: v.url,
                                state: v.state.to_owned(),
                                head: v.head,
                                lag: v.lag,
                                failures: v.failures,
                                last_error: v.last_error,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                ChainRow {
                    vm: c.kind.as_str().to_owned(),
                    chain_id: c.chain_id,
                    head: r.map(|r| r.head),
                    finalized: r.and_then(|r| r.finalized),
                    lag: r.and_then(|r| r.finalized.map(|f| r.head.saturating_sub(f))),
                    observed_at_ms: r.map(|r| r.observed_at_ms),
                    stale: age.is_none_or(|a| a > snap.stale_after_ms),
                    endpoints,
                    breaker: breaker(&live.breaker),
                    paused: paused("chain", &id),
                    last_change: changed("chain", &id),
                    chain: id,
                }
            })
            .collect();
        let asset_name = |ix| t.asset(ix).key.to_string();
        let bridges = t
            .bridges()
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let ix = BridgeIx(u32::try_from(i).unwrap_or(u32::MAX));
                let e = snap.effective(ix);
                let live = &snap.bridges[i];
                let o = e.observed.unwrap_or_default();
                let id = b.id.to_string();
                BridgeRow {
                    from: asset_name(b.from),
                    to: asset_name(b.to),
                    breaker: breaker(&live.breaker),
                    paused: paused("bridge", &id),
                    last_change: changed("bridge", &id),
                    liquidity_usd: e.liquidity_usd.to_string(),
                    success_p: e.success_p,
                    success_basis: basis(e.success_basis),
                    eta_s: e.eta_s,
                    eta_basis: basis(e.eta_basis),
                    attempts: o.attempts,
                    successes: o.successes,
                    latency_p50_s: o.latency_p50_s,
                    latency_p95_s: o.latency_p95_s,
                    in_flight: o.in_flight,
                    bridge: id,
                }
            })
            .collect();
        let assets = t.assets().iter().map(|a| a.key.to_string()).collect();
        let (queues, approvals, limits) = match engine {
            Some(e) => self.relayer_sections(e, t, now)?,
            None => (
                Queues {
                    payouts: Vec::new(),
                    held: Vec::new(),
                    lanes: Vec::new(),
                    transfers: Vec::new(),
                },
                Vec::new(),
                Limits {
                    governor: Vec::new(),
                    merchants: Vec::new(),
                },
            ),
        };
        let audit_head = match engine {
            Some(e) => e.store.audit_head().map_err(internal)?,
            None => 0,
        };
        let history = self
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        Ok(OpsView {
            at_ms: now,
            assets,
            chains,
            bridges,
            pauses,
            changes,
            queues,
            history,
            approvals,
            limits,
            audit_head,
        })
    }

    fn relayer_sections(
        &self,
        e: &crate::engine::Engine,
        t: &Topology,
        now: u64,
    ) -> Result<(Queues, Vec<ApprovalRow>, Limits), ErrorObjectOwned> {
        let internal = |e: switchyard_relayer::Error| errors::internal(&e.to_string());
        let payouts = e
            .store
            .payout_counts_by_chain()
            .map_err(internal)?
            .into_iter()
            .map(|(chain_id, state, count)| QueueCount {
                chain: chain_name(t, chain_id),
                state,
                count,
            })
            .collect();
        let held = e
            .payouts
            .list(None, Some(PayoutState::Held), 0, 200)
            .map_err(internal)?;
        let mut lanes = Vec::new();
        for (chain_id, h) in e.transfers.lanes() {
            let pending = h
                .lane
                .open_records()
                .map_err(internal)?
                .into_iter()
                .map(|r| {
                    let attempts = h.lane.attempts(r.id).map(|a| a.len()).unwrap_or(0);
                    LaneTx {
                        intent: r.intent,
                        nonce: r.nonce,
                        state: r.state.to_string(),
                        attempts,
                        hash: r.hash.map(|h| h.to_string()),
                        last_error: r.last_error,
                        updated_ms: r.updated_ms,
                    }
                })
                .collect();
            lanes.push(LaneRow {
                chain: chain_name(t, i64::try_from(*chain_id).unwrap_or(i64::MAX)),
                sender: h.lane.sender().to_string(),
                next_nonce: h.lane.next_nonce().ok(),
                halted: h.lane.halted().map_err(internal)?,
                pending,
            });
        }
        lanes.sort_by(|a, b| a.chain.cmp(&b.chain));
        let mut transfers = Vec::new();
        for id in e
            .transfers
            .pending()
            .map_err(internal)?
            .into_iter()
            .take(50)
        {
            if let Some(v) = e.transfers.get(&id).map_err(internal)? {
                transfers.push(v);
            }
        }
        let mut approvals = Vec::new();
        for a in e.store.awaiting_approval(200).map_err(internal)? {
            if let Some(p) = e.payouts.get(&a.id).map_err(internal)? {
                approvals.push(ApprovalRow {
                    payout: p,
                    usd: usd(a.usd_e8),
                    needed: a.needed,
                    approved_by: a.approved_by,
                });
            }
        }
        let queued = e.store.governor_queues().map_err(internal)?;
        let governor = e
            .payouts
            .governor_status()
            .map_err(internal)?
            .into_iter()
            .map(|(chain_id, limit, used)| {
                let chain_id = i64::try_from(chain_id).unwrap_or(i64::MAX);
                let q = queued.iter().find(|q| q.chain_id == chain_id);
                GovernorRow {
                    chain: chain_name(t, chain_id),
                    budget_usd: limit.budget.to_string(),
                    used_usd: UsdE8(used).to_string(),
                    remaining_usd: UsdE8(limit.budget.0.saturating_sub(used)).to_string(),
                    window_ms: limit.window_ms,
                    queued: q.map_or(0, |q| q.items),
                    queued_usd: usd(q.map_or(U256::ZERO, |q| q.usd_e8)),
                }
            })
            .collect();
        // Every merchant with payouts in the last day, and every merchant
        // with a budget, counted over its own window as intake counts it.
        let since = i64::try_from(now.saturating_sub(MERCHANT_WINDOW_MS)).unwrap_or(0);
        let mut merchants: Vec<MerchantRow> = e
            .store
            .merchant_flows(since)
            .map_err(internal)?
            .into_iter()
            .map(|m| MerchantRow {
                merchant: m.owner,
                items: m.items,
                used_usd: usd(m.usd_e8),
                window_ms: MERCHANT_WINDOW_MS,
                budget_usd: None,
                remaining_usd: None,
            })
            .collect();
        let mut budgeted: Vec<_> = e.payouts.budgets().iter().collect();
        budgeted.sort_by(|a, b| a.0.cmp(b.0));
        for (name, b) in budgeted {
            let since = i64::try_from(now.saturating_sub(b.window_ms)).unwrap_or(0);
            // One unreadable row shows in its merchant's line, not as a
            // console that cannot be read at all.
            let row = match e.store.merchant_used(name, since) {
                Ok((items, used)) => MerchantRow {
                    merchant: name.clone(),
                    items,
                    used_usd: usd(used),
                    window_ms: b.window_ms,
                    budget_usd: Some(b.budget.to_string()),
                    remaining_usd: Some(UsdE8(b.budget.0.saturating_sub(used)).to_string()),
                },
                Err(err) => MerchantRow {
                    merchant: name.clone(),
                    items: 0,
                    used_usd: format!("unreadable: {err}"),
                    window_ms: b.window_ms,
                    budget_usd: Some(b.budget.to_string()),
                    remaining_usd: None,
                },
            };
            match merchants.iter_mut().find(|m| m.merchant == *name) {
                Some(m) => *m = row,
                None => merchants.push(row),
            }
        }
        Ok((
            Queues {
                payouts,
                held,
                lanes,
                transfers,
            },
            approvals,
            Limits {
                governor,
                merchants,
            },
        ))
    }

    /// Takes one sample of the payout counts for the chart.
    pub fn sample_queues(&self) {
        let Some(e) = &self.engine else { return };
        let Ok(rows) = e.store.payout_counts_by_chain() else {
            return;
        };
        let t = Arc::clone(&self.model.current().snapshot.topology);
        let mut counts: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for (chain_id, state, n) in rows {
            // Only what is still moving: final, failed and cancelled items
            // only grow.
            let open = PayoutState::parse(&state).is_some_and(|s| {
                !matches!(
                    s,
                    PayoutState::Final | PayoutState::Failed | PayoutState::Cancelled
                )
            });
            if open {
                counts
                    .entry(chain_name(&t, chain_id))
                    .or_default()
                    .insert(state, n);
            }
        }
        let mut h = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        if h.len() >= HISTORY_LEN {
            h.pop_front();
        }
        h.push_back(QueueSample {
            at_ms: crate::now_ms(),
            counts,
        });
    }
}

/// What a subscriber has been sent: each section's last value, and the
/// time of the last history sample.
#[derive(Debug, Default)]
pub struct Sent {
    sections: BTreeMap<String, Value>,
    history_at: Option<u64>,
}

/// The update that brings a subscriber from `sent` to `view` (`None`: it
/// has it all). `history` goes whole the first time only, then as the
/// samples taken since.
pub fn changed_sections(view: &OpsView, sent: &mut Sent) -> Option<OpsUpdate> {
    let Ok(Value::Object(all)) = serde_json::to_value(view) else {
        return None;
    };
    let first = sent.history_at.is_none() && sent.sections.is_empty();
    let mut sections = BTreeMap::new();
    for (k, v) in all {
        if k == "at_ms" || (k == "history" && !first) {
            continue;
        }
        if sent.sections.get(&k) != Some(&v) {
            if k != "history" {
                sent.sections.insert(k.clone(), v.clone());
            }
            sections.insert(k, v);
        }
    }
    let history_append = match sent.history_at {
        _ if first => Vec::new(),
        None => view.history.clone(),
        Some(t) => view
            .history
            .iter()
            .filter(|s| s.at_ms > t)
            .cloned()
            .collect(),
    };
    if let Some(last) = view.history.last() {
        sent.history_at = Some(last.at_ms);
    } else if first {
        sent.history_at = Some(0);
    }
    (!sections.is_empty() || !history_append.is_empty()).then_some(OpsUpdate {
        at_ms: view.at_ms,
        sections,
        history_append,
    })
}

/// The view, read at most twice a second however many consoles watch it,
/// and only while one does.
#[derive(Debug)]
pub struct Feed {
    tx: tokio::sync::watch::Sender<Option<Arc<OpsView>>>,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            tx: tokio::sync::watch::Sender::new(None),
        }
    }
}

impl Feed {
    /// A receiver of the views to come.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Option<Arc<OpsView>>> {
        self.tx.subscribe()
    }

    /// Whether anyone watches.
    pub fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Publishes a view read now.
    pub fn publish(&self, view: OpsView) {
        self.tx.send_replace(Some(Arc::new(view)));
    }
}

/// Reads the view every [`FEED_EVERY`] while a console watches; a failed
/// read is logged and tried again at the next tick (the subscribers' view
/// then goes stale, which their heartbeat shows).
pub async fn run_feed(state: Arc<AppState>, stop: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(FEED_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if !state.feed.watched() {
            continue;
        }
        let s = Arc::clone(&state);
        match tokio::task::spawn_blocking(move || s.ops_view()).await {
            Ok(Ok(v)) => state.feed.publish(v),
            Ok(Err(e)) => tracing::warn!("console view: {}", e.message()),
            Err(e) => tracing::warn!("console view: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_sections_are_sent_after_the_first() {
        let view = OpsView {
            at_ms: 1,
            assets: vec!["a:T".into()],
            chains: Vec::new(),
            bridges: Vec::new(),
            pauses: Vec::new(),
            changes: Vec::new(),
            queues: Queues {
                payouts: Vec::new(),
                held: Vec::new(),
                lanes: Vec::new(),
                transfers: Vec::new(),
            },
            history: Vec::new(),
            approvals: Vec::new(),
            limits: Limits {
                governor: Vec::new(),
                merchants: Vec::new(),
            },
            audit_head: 0,
        };
        let mut sent = Sent::default();
        let first = changed_sections(&view, &mut sent).unwrap();
        assert_eq!(first.sections.len(), 10, "{:?}", first.sections.keys());
        let mut later = view.clone();
        later.at_ms = 2;
        assert!(changed_sections(&later, &mut sent).is_none());
        later.assets.push("b:T".into());
        let u = changed_sections(&later, &mut sent).unwrap();
        assert_eq!(u.sections.keys().collect::<Vec<_>>(), ["assets"]);
        assert_eq!(u.at_ms, 2);
        // History: never again whole, only the samples taken since.
        let sample = |at_ms| QueueSample {
            at_ms,
            counts: BTreeMap::new(),
        };
        later.history = vec![sample(10), sample(12)];
        let u = changed_sections(&later, &mut sent).unwrap();
        assert!(u.sections.is_empty(), "{:?}", u.sections.keys());
        assert_eq!(u.history_append, [sample(10), sample(12)]);
        later.history = vec![sample(12), sample(14)];
        let u = changed_sections(&later, &mut sent).unwrap();
        assert_eq!(u.history_append, [sample(14)]);
        assert!(changed_sections(&later, &mut sent).is_none());
    }
}
