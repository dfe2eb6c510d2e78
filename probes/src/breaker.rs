//! Circuit breakers: pure state machines with an injected clock.
//!
//! ```text
//! closed --(failure rate >= limit over the window, after min_calls)--> open
//! closed --(consecutive failures >= limit)---------------------------> open
//! any    --(trip: stale or frozen head)------------------------------> open
//! open   --(cool_down_ms elapsed)------------------------------------> half-open
//! half-open --(half_open_probes successes)---------------------------> closed
//! half-open --(a failure)--------------------------------------------> open
//! ```
//!
//! A half-open breaker lets at most `half_open_probes` calls through
//! ([`Breaker::allow`]); closed lets everything through, open nothing.

use std::collections::VecDeque;
use std::sync::Arc;

use dashmap::DashMap;
use switchyard_core::now_ms;
use switchyard_core::topology::{BridgeIx, ChainIx};

use crate::ModelHandle;

use switchyard_core::model::BreakerState;

pub use switchyard_core::config::BreakerPolicy;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Inner {
    Closed {
        outcomes: VecDeque<(u64, bool)>,
        consecutive: u32,
    },
    Open {
        since: u64,
        reason: String,
    },
    HalfOpen {
        let_through: u32,
        successes: u32,
    },
}

/// One breaker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breaker {
    policy: BreakerPolicy,
    inner: Inner,
}

fn closed() -> Inner {
    Inner::Closed {
        outcomes: VecDeque::new(),
        consecutive: 0,
    }
}

impl Breaker {
    /// A closed breaker.
    pub fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            inner: closed(),
        }
    }

    /// Applies the clock: an open breaker whose cool-down is over becomes
    /// half-open.
    fn tick(&mut self, now_ms: u64) {
        if let Inner::Open { since, .. } = &self.inner
            && now_ms.saturating_sub(*since) >= self.policy.cool_down_ms
        {
            self.inner = Inner::HalfOpen {
                let_through: 0,
                successes: 0,
            };
        }
    }

    /// The state at `now_ms`, for the network model.
    pub fn state(&mut self, now_ms: u64) -> BreakerState {
        self.tick(now_ms);
        match &self.inner {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { reason, .. } => BreakerState::Open {
                reason: reason.clone(),
            },
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether a call may go through at `now_ms` (counts half-open probes).
    pub fn allow(&mut self, now_ms: u64) -> bool {
        self.tick(now_ms);
        match &mut self.inner {
            Inner::Closed { .. } => true,
            Inner::Open { .. } => false,
            Inner::HalfOpen { let_through, .. } => {
                if *let_through < self.policy.half_open_probes {
                    *let_through += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Opens the breaker now, whatever its state.
    pub fn trip(&mut self, now_ms: u64, reason: &str) {
        self.inner = Inner::Open {
            since: now_ms,
            reason: reason.to_owned(),
        };
    }

    /// Records the outcome of a call; `what` describes a failure.
    pub fn record(&mut self, now_ms: u64, ok: bool, what: &str) {
        self.tick(now_ms);
        let p = &self.policy;
        match &mut self.inner {
            Inner::Open { .. } => {}
            Inner::HalfOpen { successes, .. } => {
                if ok {
                    *successes += 1;
                    if *successes >= p.half_open_probes {
                        self.inner = closed();
                    }
                } else {
                    self.trip(now_ms, &format!("half-open probe failed: {what}"));
                }
            }
            Inner::Closed {
                outcomes,
                consecutive,
            } => {
                outcomes.push_back((now_ms, ok));
                while outcomes
                    .front()
                    .is_some_and(|(t, _)| now_ms.saturating_sub(*t) >= p.window_ms)
                {
                    outcomes.pop_front();
                }
                *consecutive = if ok { 0 } else { *consecutive + 1 };
                let calls = outcomes.len() as u64;
                let failures = outcomes.iter().filter(|(_, ok)| !ok).count() as u64;
                if !ok && *consecutive >= p.consecutive_failures {
                    let n = *consecutive;
                    self.trip(now_ms, &format!("{n} consecutive failures, last: {what}"));
                } else if !ok
                    && calls >= u64::from(p.min_calls)
                    && failures * 1000 >= u64::from(p.failure_permille) * calls
                {
                    self.trip(
                        now_ms,
                        &format!(
                            "{failures} of {calls} calls failed within {} s, last: {what}",
                            p.window_ms / 1000
                        ),
                    );
                }
            }
        }
    }
}

/// What a breaker guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A chain: every bridge leaving or entering it.
    Chain(ChainIx),
    /// One bridge.
    Bridge(BridgeIx),
}

/// Every breaker of the daemon. State changes are published into the
/// network model, where open breakers take bridges out of routing with a
/// reason. Calls never hold a map guard across an await (they never await).
#[derive(Debug)]
pub struct Breakers {
    policy: BreakerPolicy,
    map: DashMap<Subject, Breaker>,
    model: Arc<ModelHandle>,
}

impl Breakers {
    /// Breakers publishing into `model`.
    pub fn new(policy: BreakerPolicy, model: Arc<ModelHandle>) -> Self {
        Self {
            policy,
            map: DashMap::new(),
            model,
        }
    }

    fn with(&self, s: Subject, f: impl FnOnce(&mut Breaker)) {
        let now = now_ms();
        let (before, after) = {
            let mut b = self
                .map
                .entry(s)
                .or_insert_with(|| Breaker::new(self.policy.clone()));
            let before = b.state(now);
            f(&mut b);
            (before, b.state(now))
        };
        if before != after {
            self.publish(s, after);
        }
    }

    fn publish(&self, s: Subject, state: BreakerState) {
        let topology = Arc::clone(&self.model.current().snapshot.topology);
        let subject = match s {
            Subject::Chain(c) => format!("chain {}", topology.chain(c).id),
            Subject::Bridge(b) => format!("bridge {}", topology.bridge(b).id),
        };
        match &state {
            BreakerState::Open { reason } => {
                tracing::warn!(%subject, %reason, "breaker open: its bridges leave routing");
            }
            BreakerState::HalfOpen => {
                tracing::warn!(%subject, "breaker half-open: probing");
            }
            BreakerState::Closed => tracing::warn!(%subject, "breaker closed"),
        }
        self.model.update(|snap| match s {
            Subject::Chain(c) => {
                if let Some(l) = snap.chains.get_mut(c.ix()) {
                    l.breaker = state;
                }
            }
            Subject::Bridge(b) => {
                if let Some(l) = snap.bridges.get_mut(b.ix()) {
                    l.breaker = state;
                }
            }
        });
    }

    /// Records a call's outcome.
    pub fn record(&self, s: Subject, ok: bool, what: &str) {
        let now = now_ms();
        self.with(s, |b| b.record(now, ok, what));
    }

    /// Opens `s` now.
    pub fn trip(&self, s: Subject, reason: &str) {
        let now = now_ms();
        self.with(s, |b| b.trip(now, reason));
    }

    /// Applies the clock to every breaker (open -> half-open).
    pub fn refresh(&self) {
        let subjects: Vec<Subject> = self.map.iter().map(|e| *e.key()).collect();
        for s in subjects {
            self.with(s, |_| {});
        }
    }

    /// Every breaker that is not closed.
    pub fn not_closed(&self) -> Vec<(Subject, BreakerState)> {
        let now = now_ms();
        let mut out: Vec<(Subject, BreakerState)> = self
            .map
            .iter_mut()
            .filter_map(|mut e| {
                let st = e.value_mut().state(now);
                (st != BreakerState::Closed).then_some((*e.key(), st))
            })
            .collect();
        out.sort_by_key(|(s, _)| format!("{s:?}"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            window_ms: 1_000,
            min_calls: 4,
            failure_permille: 500,
            consecutive_failures: 3,
            cool_down_ms: 500,
            half_open_probes: 2,
        }
    }

    #[test]
    fn consecutive_failures_trip_then_cool_down_then_probes_close() {
        let mut b = Breaker::new(policy());
        b.record(0, false, "timeout");
        b.record(1, false, "timeout");
        assert_eq!(b.state(2), BreakerState::Closed);
        b.record(2, false, "timeout");
        assert!(matches!(b.state(3), BreakerState::Open { .. }));
        assert!(!b.allow(100));
        assert_eq!(b.state(502), BreakerState::HalfOpen);
        assert!(b.allow(502) && b.allow(502) && !b.allow(502), "two probes");
        b.record(503, true, "");
        assert_eq!(b.state(503), BreakerState::HalfOpen);
        b.record(504, true, "");
        assert_eq!(b.state(504), BreakerState::Closed);
    }

    #[test]
    fn a_failed_probe_reopens() {
        let mut b = Breaker::new(policy());
        b.trip(0, "head frozen");
        assert_eq!(
            b.state(10),
            BreakerState::Open {
                reason: "head frozen".into()
            }
        );
        assert_eq!(b.state(600), BreakerState::HalfOpen);
        b.record(600, false, "refused");
        assert!(
            matches!(b.state(601), BreakerState::Open { reason } if reason.contains("refused"))
        );
        assert_eq!(
            b.state(1_100),
            BreakerState::HalfOpen,
            "cool-down from the new trip"
        );
    }

    /// The reference: decides from the whole history, the simplest way.
    #[derive(Debug)]
    struct Model {
        p: BreakerPolicy,
        history: Vec<(u64, bool)>,
        open_since: Option<u64>,
        half: Option<u32>,
    }

    impl Model {
        fn state(&mut self, now: u64) -> &'static str {
            if let Some(s) = self.open_since
                && now - s >= self.p.cool_down_ms
            {
                self.open_since = None;
                self.half = Some(0);
            }
            match (self.open_since, self.half) {
                (Some(_), _) => "open",
                (None, Some(_)) => "half",
                _ => "closed",
            }
        }

        fn record(&mut self, now: u64, ok: bool) {
            match self.state(now) {
                "open" => {}
                "half" => {
                    if ok {
                        let s = self.half.unwrap() + 1;
                        if s >= self.p.half_open_probes {
                            self.half = None;
                            self.history.clear();
                        } else {
                            self.half = Some(s);
                        }
                    } else {
                        self.half = None;
                        self.open_since = Some(now);
                    }
                }
                _ => {
                    self.history.push((now, ok));
                    let recent: Vec<bool> = self
                        .history
                        .iter()
                        .filter(|(t, _)| now - t < self.p.window_ms)
                        .map(|(_, ok)| *ok)
                        .collect();
                    let run = self.history.iter().rev().take_while(|(_, ok)| !ok).count();
                    let fails = recent.iter().filter(|ok| !**ok).count();
                    if !ok
                        && (run as u32 >= self.p.consecutive_failures
                            || (recent.len() as u32 >= self.p.min_calls
                                && fails * 1000 >= self.p.failure_permille as usize * recent.len()))
                    {
                        self.open_since = Some(now);
                        self.history.clear();
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn breaker_agrees_with_the_reference_model(
            steps in prop::collection::vec((0u64..400, any::<bool>(), any::<bool>()), 1..200),
        ) {
            let mut b = Breaker::new(policy());
            let mut m = Model { p: policy(), history: Vec::new(), open_since: None, half: None };
            let mut now = 0;
            for (dt, ok, record) in steps {
                now += dt;
                if record {
                    b.record(now, ok, "x");
                    m.record(now, ok);
                }
                let got = match b.state(now) {
                    BreakerState::Closed => "closed",
                    BreakerState::Open { .. } => "open",
                    BreakerState::HalfOpen => "half",
                };
                prop_assert_eq!(got, m.state(now), "at {}", now);
            }
        }
    }
}
