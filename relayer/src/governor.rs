//! Notional limits per chain (Wormhole-Governor style), as pure functions.
//!
//! A chain has a USD budget over a sliding window (24 h by default). A
//! payout is admitted when the USD admitted on that chain within the
//! window, plus its own value, stays within the budget; otherwise it waits
//! in the chain's queue until enough earlier flow ages out of the window.
//! The queue is first in, first out: once an item waits, the items behind
//! it on that chain wait too. A single payout at or above the large
//! threshold waits a fixed delay from when it was first seen, whatever the
//! budget. Values are fixed-point USD (`UsdE8`); an item without a price
//! never gets here (the caller holds it: fail closed).

use switchyard_core::{U256, UsdE8};

/// One chain's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// USD admitted per window at most.
    pub budget: UsdE8,
    /// Window length.
    pub window_ms: u64,
    /// From this value a single payout waits `large_delay_ms`.
    pub large: UsdE8,
    /// The large-payout delay.
    pub large_delay_ms: u64,
}

/// What to do with an item now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Admit it (and record its flow).
    Admit,
    /// Wait; `until_ms` is when it may be admitted if nothing else changes
    /// (`None`: never by itself, it exceeds the whole budget).
    Wait {
        /// Earliest admission time.
        until_ms: Option<u64>,
        /// Why, for the item's status.
        why: String,
    },
}

/// The key a chain's limit and flows are kept under: its EVM chain id, or
/// for a chain without one (paid through a generic lane: chain id 0 in
/// the payout table, named in its `chain` column) its bridge domain,
/// derived from its topology name.
pub fn key(chain_id: i64, chain: Option<&str>) -> i64 {
    match (chain_id, chain) {
        (0, Some(name)) => i64::try_from(switchyard_core::topology::derived_bridge_domain(name))
            .unwrap_or(i64::MAX),
        (id, _) => id,
    }
}

/// USD admitted in the window ending at `now`.
pub fn used(limit: &Limit, flows: &[(u64, UsdE8)], now: u64) -> U256 {
    flows
        .iter()
        .filter(|(at, _)| now.saturating_sub(*at) < limit.window_ms)
        .fold(U256::ZERO, |s, (_, v)| s.saturating_add(v.0))
}

/// The decision for an item worth `usd`, first seen at `seen_ms`, against
/// the flows already admitted on its chain.
pub fn decide(
    limit: &Limit,
    flows: &[(u64, UsdE8)],
    now: u64,
    usd: UsdE8,
    seen_ms: u64,
) -> Decision {
    if usd >= limit.large && now < seen_ms.saturating_add(limit.large_delay_ms) {
        let until = seen_ms.saturating_add(limit.large_delay_ms);
        return Decision::Wait {
            until_ms: Some(until),
            why: format!(
                "large payout (${usd} >= ${}): delayed until {until} ms",
                limit.large
            ),
        };
    }
    if usd.0 > limit.budget.0 {
        return Decision::Wait {
            until_ms: None,
            why: format!(
                "${usd} exceeds the chain's whole budget of ${} per window: needs an operator",
                limit.budget
            ),
        };
    }
    let mut live: Vec<(u64, U256)> = flows
        .iter()
        .filter(|(at, _)| now.saturating_sub(*at) < limit.window_ms)
        .map(|(at, v)| (*at, v.0))
        .collect();
    let mut sum = live
        .iter()
        .fold(U256::ZERO, |s, (_, v)| s.saturating_add(*v));
    if sum.saturating_add(usd.0) <= limit.budget.0 {
        return Decision::Admit;
    }
    // When enough of the oldest flow has aged out.
    live.sort_by_key(|(at, _)| *at);
    let mut until = None;
    for (at, v) in live {
        sum = sum.saturating_sub(v);
        if sum.saturating_add(usd.0) <= limit.budget.0 {
            until = Some(at.saturating_add(limit.window_ms));
            break;
        }
    }
    Decision::Wait {
        until_ms: until,
        why: format!(
            "chain budget of ${} per window in use; headroom for ${usd} at {} ms",
            limit.budget,
            until.map_or("-".into(), |u| u.to_string())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd(n: u64) -> UsdE8 {
        UsdE8(U256::from(n) * U256::from(100_000_000u64))
    }

    fn limit() -> Limit {
        Limit {
            budget: usd(1_000),
            window_ms: 10_000,
            large: usd(600),
            large_delay_ms: 3_000,
        }
    }

    #[test]
    fn waits_for_headroom_then_admits() {
        let l = limit();
        let flows = vec![(0, usd(700)), (5_000, usd(200))];
        assert_eq!(decide(&l, &flows, 6_000, usd(100), 6_000), Decision::Admit);
        match decide(&l, &flows, 6_000, usd(300), 6_000) {
            Decision::Wait { until_ms, .. } => assert_eq!(until_ms, Some(10_000)),
            d => panic!("{d:?}"),
        }
        assert_eq!(decide(&l, &flows, 10_000, usd(300), 6_000), Decision::Admit);
    }

    #[test]
    fn a_large_payout_waits_its_delay_and_an_oversized_one_waits_for_an_operator() {
        let l = limit();
        assert!(matches!(
            decide(&l, &[], 1_000, usd(600), 0),
            Decision::Wait {
                until_ms: Some(3_000),
                ..
            }
        ));
        assert_eq!(decide(&l, &[], 3_000, usd(600), 0), Decision::Admit);
        assert!(matches!(
            decide(&l, &[], 99_000, usd(1_001), 0),
            Decision::Wait { until_ms: None, .. }
        ));
    }

    proptest! {
        /// A FIFO queue served by `decide` never lets the admitted sum in
        /// any window exceed the budget, admits in arrival order, and
        /// admits every item that fits once its turn and time come.
        #[test]
        fn window_sums_stay_within_budget_and_the_queue_is_fifo(
            items in prop::collection::vec((0u64..3_000, 1u64..700), 1..40),
        ) {
            let l = limit();
            let mut arrivals = Vec::new();
            let mut t = 0;
            for (dt, v) in &items {
                t += dt;
                arrivals.push((t, usd(*v)));
            }
            let mut flows: Vec<(u64, UsdE8)> = Vec::new();
            let mut admitted: Vec<usize> = Vec::new();
            let mut next = 0;
            let mut now = 0;
            let end = t + 200_000;
            while now <= end && next < arrivals.len() {
                // Serve the head of the queue while it is admissible.
                while next < arrivals.len() && arrivals[next].0 <= now {
                    let (seen, v) = arrivals[next];
                    match decide(&l, &flows, now, v, seen) {
                        Decision::Admit => {
                            flows.push((now, v));
                            admitted.push(next);
                            next += 1;
                        }
                        Decision::Wait { .. } => break,
                    }
                }
                now += 250;
            }
            prop_assert_eq!(next, arrivals.len(), "every item fits eventually");
            prop_assert!(admitted.windows(2).all(|w| w[0] < w[1]), "FIFO");
            for (at, _) in &flows {
                let sum = flows
                    .iter()
                    .filter(|(a, _)| *a <= *at && at - a < l.window_ms)
                    .fold(U256::ZERO, |s, (_, v)| s + v.0);
                prop_assert!(sum <= l.budget.0, "window ending {} holds {}", at, sum);
            }
            for (i, (seen, v)) in arrivals.iter().enumerate() {
                if *v >= l.large {
                    let at = flows[admitted.iter().position(|x| *x == i).unwrap()].0;
                    prop_assert!(at >= seen + l.large_delay_ms, "large item {} admitted early", i);
                }
            }
        }
    }
}
