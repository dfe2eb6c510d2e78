//! The live network model: the topology plus what probes, breakers and
//! operators say about each chain and bridge right now.
//!
//! A [`NetworkSnapshot`] is immutable. Writers (probes, breakers, operator
//! actions) build a new snapshot and publish it; readers (the router) hold an
//! `Arc` to whichever snapshot was current when they started, so a quote
//! never waits on a writer and never sees half an update.

use std::sync::Arc;

use alloy_primitives::U256;
use serde::Serialize;

use crate::amount::UsdE8;
use crate::health::{Basis, HealthPolicy, Observed};
use crate::topology::{Bridge, BridgeIx, ChainIx, Topology};

/// State of a circuit breaker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakerState {
    /// Healthy: traffic flows.
    #[default]
    Closed,
    /// Tripped: no traffic until the cool-down ends.
    Open {
        /// Why it tripped.
        reason: String,
    },
    /// Cooling down: a few probe calls are let through.
    HalfOpen,
}

/// Live reading of a bridge, published by a probe. Each `Some` field
/// replaces the topology's prior for that field.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BridgeReading {
    /// When it was observed (unix milliseconds).
    pub observed_at_ms: u64,
    /// Fixed fee in from-asset base units (gas included by the probe).
    pub fee_fixed: Option<U256>,
    /// Proportional fee.
    pub fee_bps: Option<u16>,
    /// Observed leg latency.
    pub eta_s: Option<u64>,
    /// Observed success rate.
    pub success_p: Option<f64>,
    /// Observed destination liquidity.
    pub liquidity_usd: Option<UsdE8>,
}

/// Live reading of a chain.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ChainReading {
    /// When it was observed (unix milliseconds).
    pub observed_at_ms: u64,
    /// Latest block (or slot, or masterchain seqno).
    pub head: u64,
    /// Latest final block, if the chain reports one.
    pub finalized: Option<u64>,
    /// Timestamp of the latest block, unix seconds (a frozen head shows here).
    pub head_time_s: u64,
    /// Base fee of the next block, native base units per execution unit.
    pub base_fee: Option<U256>,
    /// Typical priority fee, same unit.
    pub priority_fee: Option<U256>,
}

impl BridgeReading {
    /// Folds a newer reading into this one: fields the newer reading has
    /// replace ours, the others are kept, and the time is the newer one's.
    pub fn merge(&mut self, newer: BridgeReading) {
        self.observed_at_ms = newer.observed_at_ms;
        self.fee_fixed = newer.fee_fixed.or(self.fee_fixed);
        self.fee_bps = newer.fee_bps.or(self.fee_bps);
        self.eta_s = newer.eta_s.or(self.eta_s);
        self.success_p = newer.success_p.or(self.success_p);
        self.liquidity_usd = newer.liquidity_usd.or(self.liquidity_usd);
    }
}

/// What is known live about one bridge.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BridgeLive {
    /// Operator pause, with its reason.
    pub paused: Option<String>,
    /// Breaker state.
    pub breaker: BreakerState,
    /// Latest probe reading.
    pub reading: Option<BridgeReading>,
    /// What its executed hops showed over the observation window.
    pub observed: Option<Observed>,
}

/// What is known live about one chain.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ChainLive {
    /// Operator pause, with its reason.
    pub paused: Option<String>,
    /// Breaker state.
    pub breaker: BreakerState,
    /// Latest probe reading.
    pub reading: Option<ChainReading>,
}

/// Why a bridge cannot be used at all right now, whatever the amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unusable {
    /// The bridge or one of its chains is paused by an operator.
    Paused,
    /// The bridge's or one of its chains' breaker is open.
    BreakerOpen,
    /// The bridge's or one of its chains' reading is older than allowed.
    StaleReading,
}

/// A bridge's parameters after live readings replaced the priors.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectiveBridge {
    /// Fixed fee in from-asset base units.
    pub fee_fixed: U256,
    /// Proportional fee.
    pub fee_bps: u16,
    /// Minimum input in from-asset base units.
    pub min: U256,
    /// Leg ETA: the prior moved by observations.
    pub eta_s: u64,
    /// Leg success probability: the prior moved by observations.
    pub success_p: f64,
    /// The ETA before observations (a probe's reading, else the topology).
    pub prior_eta_s: u64,
    /// The success probability before observations.
    pub prior_success_p: f64,
    /// What the observations were, if there were any.
    pub observed: Option<Observed>,
    /// What `eta_s` rests on.
    pub eta_basis: Basis,
    /// What `success_p` rests on.
    pub success_basis: Basis,
    /// Largest single transfer.
    pub max_usd: UsdE8,
    /// Destination liquidity.
    pub liquidity_usd: UsdE8,
    /// Pause or open breaker, with who said so; independent of time.
    pub blocked: Option<(Unusable, String)>,
    /// From this instant (unix ms) the oldest reading the bridge depends on
    /// is stale; `u64::MAX` when it depends on none.
    pub stale_from_ms: u64,
    /// Which reading goes stale first.
    pub stale_subject: String,
}

impl EffectiveBridge {
    /// Why the bridge is unusable at `now_ms`, if it is: pause and breaker
    /// first, then a stale reading.
    pub fn unusable_at(&self, now_ms: u64) -> Option<(Unusable, String)> {
        if let Some(b) = &self.blocked {
            return Some(b.clone());
        }
        (now_ms >= self.stale_from_ms).then(|| {
            (
                Unusable::StaleReading,
                format!(
                    "{} reading is {} ms old",
                    self.stale_subject,
                    now_ms - self.stale_from_ms
                ),
            )
        })
    }
}

/// An immutable view of the network at one moment.
#[derive(Clone, Debug)]
pub struct NetworkSnapshot {
    /// Static topology.
    pub topology: Arc<Topology>,
    /// Increases with every publication.
    pub version: u64,
    /// Live state per bridge, indexed like `topology.bridges()`.
    pub bridges: Vec<BridgeLive>,
    /// Live state per chain, indexed like `topology.chains()`.
    pub chains: Vec<ChainLive>,
    /// A reading older than this makes its bridge or chain unusable.
    pub stale_after_ms: u64,
    /// How observations move the priors.
    pub health: HealthPolicy,
}

impl NetworkSnapshot {
    /// A snapshot with no live readings: every bridge runs on its priors.
    /// This is what an offline `--topology` quote uses.
    pub fn offline(topology: Arc<Topology>) -> Self {
        let bridges = vec![BridgeLive::default(); topology.bridges().len()];
        let chains = vec![ChainLive::default(); topology.chains().len()];
        Self {
            topology,
            version: 0,
            bridges,
            chains,
            stale_after_ms: u64::MAX,
            health: HealthPolicy::default(),
        }
    }

    /// The parameters the router should use for bridge `ix`.
    ///
    /// Readings replace priors field by field; observations then move the
    /// success and ETA priors ([`crate::health::estimate`]). Pause and breaker are checked
    /// for the bridge, then its source chain, then its destination chain;
    /// staleness is left to [`EffectiveBridge::unusable_at`], because it
    /// depends on when the snapshot is read, not when it was made.
    pub fn effective(&self, ix: BridgeIx) -> EffectiveBridge {
        let b: &Bridge = self.topology.bridge(ix);
        let live = &self.bridges[ix.ix()];
        let r = live.reading.as_ref();
        let from_chain = self.topology.asset(b.from).chain;
        let to_chain = self.topology.asset(b.to).chain;
        let chain_subject = |c: ChainIx| {
            let l = &self.chains[c.ix()];
            (
                format!("chain {}", self.topology.chain(c).id),
                &l.paused,
                &l.breaker,
                l.reading.as_ref().map(|r| r.observed_at_ms),
            )
        };
        let subjects = [
            (
                format!("bridge {}", b.id),
                &live.paused,
                &live.breaker,
                r.map(|r| r.observed_at_ms),
            ),
            chain_subject(from_chain),
            chain_subject(to_chain),
        ];
        let mut blocked = None;
        let mut stale_from_ms = u64::MAX;
        let mut stale_subject = String::new();
        for (who, paused, breaker, observed) in subjects {
            if blocked.is_none() {
                if let Some(why) = paused {
                    blocked = Some((Unusable::Paused, format!("{who} paused: {why}")));
                } else if let BreakerState::Open { reason } = breaker {
                    blocked = Some((
                        Unusable::BreakerOpen,
                        format!("{who} breaker open: {reason}"),
                    ));
                }
            }
            if let Some(at) = observed {
                let from = at.saturating_add(self.stale_after_ms).saturating_add(1);
                if from < stale_from_ms {
                    stale_from_ms = from;
                    stale_subject = who;
                }
            }
        }
        let prior_eta_s = r.and_then(|r| r.eta_s).unwrap_or(b.eta_s);
        let prior_success_p = r.and_then(|r| r.success_p).unwrap_or(b.success_p);
        let est = crate::health::estimate(
            &self.health,
            prior_success_p,
            prior_eta_s,
            live.observed.as_ref(),
        );
        EffectiveBridge {
            fee_fixed: r.and_then(|r| r.fee_fixed).unwrap_or(b.fee_fixed),
            fee_bps: r.and_then(|r| r.fee_bps).unwrap_or(b.fee_bps),
            min: b.min,
            eta_s: est.eta_s,
            success_p: est.success_p,
            prior_eta_s,
            prior_success_p,
            observed: live.observed,
            eta_basis: est.eta_basis,
            success_basis: est.success_basis,
            max_usd: b.max_usd,
            liquidity_usd: r.and_then(|r| r.liquidity_usd).unwrap_or(b.liquidity_usd),
            blocked,
            stale_from_ms,
            stale_subject,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = r#"
[[chain]]
id = "a"
kind = "evm"
chain_id = 1
finality = { blocks = 2 }
block_time_ms = 1000
native_usd_price = 1.0
[[chain]]
id = "b"
kind = "evm"
chain_id = 2
finality = { blocks = 2 }
block_time_ms = 1000
native_usd_price = 1.0
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
fee_fixed = "1"
fee_bps = 5
eta_s = 60
success_p = 0.99
min = "0"
max_usd = "1000"
liquidity_usd = "1000"
"#;

    fn snap() -> NetworkSnapshot {
        NetworkSnapshot::offline(Arc::new(Topology::from_toml(T).unwrap()))
    }

    #[test]
    fn offline_snapshot_uses_priors() {
        let e = snap().effective(BridgeIx(0));
        assert_eq!(e.eta_s, 60);
        assert_eq!(e.fee_fixed, U256::from(1_000_000u64));
        assert!(e.unusable_at(u64::MAX - 1).is_none());
    }

    #[test]
    fn readings_replace_priors_field_by_field() {
        let mut s = snap();
        s.bridges[0].reading = Some(BridgeReading {
            observed_at_ms: 1_000,
            eta_s: Some(30),
            ..Default::default()
        });
        s.stale_after_ms = 10_000;
        let e = s.effective(BridgeIx(0));
        assert_eq!(e.eta_s, 30);
        assert_eq!(e.success_p, 0.99);
        assert!(e.unusable_at(11_000).is_none());
        assert_eq!(
            e.unusable_at(11_001).map(|u| u.0),
            Some(Unusable::StaleReading)
        );
    }

    #[test]
    fn observations_move_the_priors_and_keep_them_visible() {
        let mut s = snap();
        s.health = HealthPolicy {
            prior_weight: 10.0,
            min_latency_samples: 2,
            ..HealthPolicy::default()
        };
        s.bridges[0].observed = Some(Observed::from_outcomes([
            (true, Some(100_000)),
            (true, Some(120_000)),
            (false, None),
        ]));
        let e = s.effective(BridgeIx(0));
        assert_eq!(
            (e.prior_eta_s, e.eta_s, e.eta_basis),
            (60, 100, Basis::Observed)
        );
        assert_eq!(e.prior_success_p, 0.99);
        assert!((e.success_p - (10.0 * 0.99 + 2.0) / 13.0).abs() < 1e-12);
        assert_eq!(e.observed.map(|o| o.attempts), Some(3));
    }

    #[test]
    fn a_paused_destination_chain_makes_the_bridge_unusable() {
        let mut s = snap();
        s.chains[1].paused = Some("maintenance".into());
        let e = s.effective(BridgeIx(0));
        let (why, detail) = e.unusable_at(0).unwrap();
        assert_eq!(why, Unusable::Paused);
        assert!(detail.contains("chain b"));
    }
}
