//! Observed bridge health, and the estimates the router ranks bridges by.
//!
//! Every executed hop ends in an outcome (released, or failed or refunded)
//! and, when it succeeded, a latency from its deposit to its final release.
//! Over a sliding window the model keeps, per bridge, an [`Observed`]
//! summary; when a snapshot is published, [`estimate`] turns the
//! topology's priors and that summary into the figures the router uses.
//!
//! The estimators:
//! * **Success probability: the posterior mean of a Beta prior.** The
//!   prior `p0` counts as `k` pseudo-observations (`k·p0` successes,
//!   `k·(1 − p0)` failures), so after `s` successes in `n` attempts the
//!   estimate is `(k·p0 + s) / (k + n)`. It is the prior at zero samples,
//!   rises with every success and falls with every failure, and tends to
//!   the observed rate `s / n` (it is within `k / (k + n)` of it). One
//!   failure of a bridge with a good record moves it a little, a run of
//!   them a lot, and it never reaches exactly 0 or 1 on finite evidence.
//! * **ETA: the observed median**, once at least `min_latency_samples`
//!   hops succeeded in the window; the prior below that. The median is
//!   what a user waits half the time, and one stuck hop cannot drag it the
//!   way it drags a mean. The 95th percentile is reported beside it.
//!   Latencies are compared at the chain's base finality: a hop that waited
//!   for a deeper tier because of its amount is recorded without that
//!   extra wait (the quote adds the tier's wait for its own amount).

use serde::{Deserialize, Serialize};

/// How observations become estimates (`[model.health]`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthPolicy {
    /// Observations older than this are forgotten.
    #[serde(default = "d_window_ms")]
    pub window_ms: u64,
    /// Weight of the topology's success prior, in pseudo-observations.
    #[serde(default = "d_prior_weight")]
    pub prior_weight: f64,
    /// Successful hops in the window before their median replaces the
    /// prior ETA.
    #[serde(default = "d_min_latency_samples")]
    pub min_latency_samples: u32,
}

fn d_window_ms() -> u64 {
    3_600_000
}
fn d_prior_weight() -> f64 {
    20.0
}
fn d_min_latency_samples() -> u32 {
    5
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            window_ms: d_window_ms(),
            prior_weight: d_prior_weight(),
            min_latency_samples: d_min_latency_samples(),
        }
    }
}

impl HealthPolicy {
    /// Checks the values; errors name the field under `prefix`.
    pub fn validate(&self, prefix: &str) -> crate::Result<()> {
        if self.window_ms == 0 {
            return Err(crate::Error::invalid(
                format!("{prefix}.window_ms"),
                "must be greater than zero",
            ));
        }
        if !(self.prior_weight.is_finite() && self.prior_weight > 0.0 && self.prior_weight <= 1e6) {
            return Err(crate::Error::invalid(
                format!("{prefix}.prior_weight"),
                "must be a number above 0 and at most 1000000",
            ));
        }
        if self.min_latency_samples == 0 {
            return Err(crate::Error::invalid(
                format!("{prefix}.min_latency_samples"),
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// What a bridge's executed hops showed over the window.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Observed {
    /// Hops that ended (released, failed or refunded).
    pub attempts: u32,
    /// Of those, released.
    pub successes: u32,
    /// Released hops whose latency is known.
    pub latency_samples: u32,
    /// Median latency, deposit to final release, seconds (rounded up).
    pub latency_p50_s: Option<u64>,
    /// 95th percentile of the same.
    pub latency_p95_s: Option<u64>,
    /// Hops of the bridge whose deposit was made and that are not
    /// released yet.
    #[serde(default)]
    pub in_flight: u32,
    /// Of those, the ones already slower than the estimate without them:
    /// each counts among the latency samples with its age so far (a lower
    /// bound of its latency), so hops that hang slow the ETA while they
    /// hang, not only once they end.
    #[serde(default)]
    pub censored: u32,
}

impl Observed {
    /// Summarises outcomes: `(succeeded, latency in ms if known)`.
    /// Quantiles are nearest-rank.
    pub fn from_outcomes(outcomes: impl IntoIterator<Item = (bool, Option<u64>)>) -> Self {
        let mut attempts = 0u32;
        let mut successes = 0u32;
        let mut lat: Vec<u64> = Vec::new();
        for (ok, ms) in outcomes {
            attempts = attempts.saturating_add(1);
            if ok {
                successes = successes.saturating_add(1);
                if let Some(ms) = ms {
                    lat.push(ms);
                }
            }
        }
        lat.sort_unstable();
        let rank = |q: u64| -> Option<u64> {
            let n = lat.len() as u64;
            if n == 0 {
                return None;
            }
            // Nearest rank: the ceil(q/100 · n)-th smallest, 1-based.
            let r = (q * n).div_ceil(100).clamp(1, n);
            lat.get(usize::try_from(r - 1).ok()?)
                .map(|ms| ms.div_ceil(1000))
        };
        Self {
            attempts,
            successes,
            latency_samples: u32::try_from(lat.len()).unwrap_or(u32::MAX),
            latency_p50_s: rank(50),
            latency_p95_s: rank(95),
            in_flight: 0,
            censored: 0,
        }
    }

    /// [`Observed::from_outcomes`] for the hops that ended, with the hops
    /// under way (`in_flight_ms`: their ages) that are already slower than
    /// the ETA estimate made without them counted as latency samples of
    /// their age. Including a hop only once it is past that estimate keeps
    /// young hops (whose latency is unknown yet) from pulling the median
    /// down; an included age is a lower bound of the hop's latency, so the
    /// median can only be under-, never over-stated by it.
    pub fn from_evidence(
        outcomes: &[(bool, Option<u64>)],
        in_flight_ms: &[u64],
        prior_eta_s: u64,
        min_samples: u32,
    ) -> Self {
        let ended = Self::from_outcomes(outcomes.iter().copied());
        let (threshold_s, _) = eta_estimate(prior_eta_s, &ended, min_samples);
        let slow: Vec<u64> = in_flight_ms
            .iter()
            .copied()
            .filter(|&ms| ms > threshold_s.saturating_mul(1000))
            .collect();
        let mut all = Self::from_outcomes(
            outcomes
                .iter()
                .copied()
                .chain(slow.iter().map(|&ms| (true, Some(ms)))),
        );
        // The hops under way are not attempts yet: only their ages count.
        all.attempts = ended.attempts;
        all.successes = ended.successes;
        all.in_flight = u32::try_from(in_flight_ms.len()).unwrap_or(u32::MAX);
        all.censored = u32::try_from(slow.len()).unwrap_or(u32::MAX);
        all
    }
}

/// Where an estimate comes from.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The prior alone (no or too few observations).
    #[default]
    Prior,
    /// The prior moved by observations.
    Observed,
}

/// A bridge's figures after observations moved its priors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Success probability.
    pub success_p: f64,
    /// What `success_p` rests on.
    pub success_basis: Basis,
    /// Leg ETA, seconds.
    pub eta_s: u64,
    /// What `eta_s` rests on.
    pub eta_basis: Basis,
}

/// `(k·p0 + s) / (k + n)`: the Beta posterior mean, see the module docs.
/// Exactly `prior` at zero attempts. `successes` above `attempts` are
/// counted as attempts.
pub fn success_estimate(prior: f64, weight: f64, successes: u32, attempts: u32) -> f64 {
    let n = attempts.max(successes);
    if n == 0 {
        return prior;
    }
    let p = (weight * prior + f64::from(successes)) / (weight + f64::from(n));
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        prior
    }
}

/// The leg ETA: the observed median once there are enough samples.
pub fn eta_estimate(prior_s: u64, observed: &Observed, min_samples: u32) -> (u64, Basis) {
    match observed.latency_p50_s {
        Some(p50) if observed.latency_samples >= min_samples.max(1) => (p50, Basis::Observed),
        _ => (prior_s, Basis::Prior),
    }
}

/// Both estimates for a bridge with priors `(prior_p, prior_eta_s)`.
pub fn estimate(
    policy: &HealthPolicy,
    prior_p: f64,
    prior_eta_s: u64,
    observed: Option<&Observed>,
) -> Estimate {
    let o = observed.copied().unwrap_or_default();
    let (eta_s, eta_basis) = eta_estimate(prior_eta_s, &o, policy.min_latency_samples);
    let (success_p, success_basis) = if o.attempts > 0 {
        (
            success_estimate(prior_p, policy.prior_weight, o.successes, o.attempts),
            Basis::Observed,
        )
    } else {
        (prior_p, Basis::Prior)
    };
    Estimate {
        success_p,
        success_basis,
        eta_s,
        eta_basis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantiles_are_nearest_rank_in_whole_seconds() {
        let o = Observed::from_outcomes(
            [1_000u64, 2_000, 3_000, 4_000, 100_000]
                .into_iter()
                .map(|ms| (true, Some(ms)))
                .chain([(false, None), (true, None)]),
        );
        assert_eq!(
            o,
            Observed {
                attempts: 7,
                successes: 6,
                latency_samples: 5,
                latency_p50_s: Some(3),
                latency_p95_s: Some(100),
                in_flight: 0,
                censored: 0,
            }
        );
        let one = Observed::from_outcomes([(true, Some(1_001))]);
        assert_eq!((one.latency_p50_s, one.latency_p95_s), (Some(2), Some(2)));
        assert_eq!(Observed::from_outcomes([]).latency_p50_s, None);
    }

    #[test]
    fn too_few_latencies_keep_the_prior_eta() {
        let policy = HealthPolicy {
            min_latency_samples: 3,
            ..HealthPolicy::default()
        };
        let two = Observed::from_outcomes([(true, Some(40_000)), (true, Some(50_000))]);
        let e = estimate(&policy, 0.99, 8, Some(&two));
        assert_eq!((e.eta_s, e.eta_basis), (8, Basis::Prior));
        assert_eq!(e.success_basis, Basis::Observed);
        let three = Observed::from_outcomes([40_000, 50_000, 60_000].map(|ms| (true, Some(ms))));
        let e = estimate(&policy, 0.99, 8, Some(&three));
        assert_eq!((e.eta_s, e.eta_basis), (50, Basis::Observed));
    }

    #[test]
    fn hops_that_hang_slow_the_eta_while_they_hang() {
        let ended = [
            (true, Some(9_000)),
            (true, Some(10_000)),
            (true, Some(11_000)),
        ];
        // Young hops (under the 10 s median) say nothing yet.
        let calm = Observed::from_evidence(&ended, &[1_000, 5_000], 8, 3);
        assert_eq!(
            (calm.in_flight, calm.censored, calm.latency_samples),
            (2, 0, 3)
        );
        assert_eq!(calm.latency_p50_s, Some(10));
        // Four hops stuck for a minute outweigh three quick ones.
        let stuck = Observed::from_evidence(&ended, &[60_000, 61_000, 62_000, 63_000, 2_000], 8, 3);
        assert_eq!(
            (stuck.in_flight, stuck.censored, stuck.latency_samples),
            (5, 4, 7)
        );
        assert_eq!(stuck.latency_p50_s, Some(60));
        assert_eq!(
            (stuck.attempts, stuck.successes),
            (3, 3),
            "not attempts yet"
        );
        let policy = HealthPolicy {
            min_latency_samples: 3,
            ..HealthPolicy::default()
        };
        assert_eq!(estimate(&policy, 0.99, 8, Some(&stuck)).eta_s, 60);
        // Nothing ended yet: hung hops older than the prior still count,
        // and the success probability stays the prior.
        let only = Observed::from_evidence(&[], &[30_000, 31_000, 32_000], 8, 3);
        let e = estimate(&policy, 0.99, 8, Some(&only));
        assert_eq!((e.eta_s, e.eta_basis), (31, Basis::Observed));
        assert_eq!((e.success_p, e.success_basis), (0.99, Basis::Prior));
    }

    #[test]
    fn a_bad_policy_names_its_field() {
        let bad = HealthPolicy {
            prior_weight: f64::NAN,
            ..HealthPolicy::default()
        };
        let e = bad.validate("model.health").unwrap_err();
        assert!(e.to_string().contains("model.health.prior_weight"), "{e}");
        let bad = HealthPolicy {
            window_ms: 0,
            ..HealthPolicy::default()
        };
        assert!(
            bad.validate("h")
                .unwrap_err()
                .to_string()
                .contains("h.window_ms")
        );
    }

    proptest! {
        /// The prior at zero samples, whatever its weight.
        #[test]
        fn zero_samples_give_the_prior(p0 in 0.0001f64..=1.0, k in 0.001f64..1e6) {
            prop_assert_eq!(success_estimate(p0, k, 0, 0), p0);
            let e = estimate(&HealthPolicy { prior_weight: k, ..HealthPolicy::default() }, p0, 42, Some(&Observed::default()));
            prop_assert_eq!((e.success_p, e.eta_s, e.success_basis), (p0, 42, Basis::Prior));
        }

        /// More successes among the same attempts never lower it; one more
        /// failure never raises it; one more success never lowers it.
        #[test]
        fn monotone_in_successes_and_failures(
            p0 in 0.0001f64..=1.0, k in 0.001f64..1e4, n in 0u32..100_000, a in 0u32..100_000, b in 0u32..100_000,
        ) {
            let (lo, hi) = (a.min(b).min(n), a.max(b).min(n));
            let e = |s, n| success_estimate(p0, k, s, n);
            prop_assert!(e(lo, n) <= e(hi, n));
            prop_assert!(e(lo, n + 1) <= e(lo, n), "a failure lowers it");
            prop_assert!(e(lo + 1, n + 1) >= e(lo, n) - 1e-12, "a success raises it");
            prop_assert!((0.0..=1.0).contains(&e(lo, n)));
        }

        /// It tends to the observed rate: within k / (k + n) of it.
        #[test]
        fn converges_to_the_observed_rate(
            p0 in 0.0001f64..=1.0, k in 0.001f64..100.0, rate in 0.0f64..=1.0, n in 1u32..1_000_000,
        ) {
            let s = ((rate * f64::from(n)).floor() as u32).min(n);
            let observed = f64::from(s) / f64::from(n);
            let bound = k / (k + f64::from(n));
            prop_assert!((success_estimate(p0, k, s, n) - observed).abs() <= bound + 1e-12);
            if n >= 1_000 * (k.ceil() as u32).max(1) {
                prop_assert!((success_estimate(p0, k, s, n) - observed).abs() <= 0.001 + 1e-12);
            }
        }

        /// The median lies between the smallest and largest latency and
        /// never above the 95th percentile.
        #[test]
        fn quantiles_are_ordered(lat in proptest::collection::vec(0u64..10_000_000, 1..200)) {
            let o = Observed::from_outcomes(lat.iter().map(|&ms| (true, Some(ms))));
            let (p50, p95) = (o.latency_p50_s.unwrap(), o.latency_p95_s.unwrap());
            let min = lat.iter().min().unwrap().div_ceil(1000);
            let max = lat.iter().max().unwrap().div_ceil(1000);
            prop_assert!(min <= p50 && p50 <= p95 && p95 <= max);
        }
    }
}
