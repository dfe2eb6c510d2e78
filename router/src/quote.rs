//! Quote requests and results.
//!
//! [`QuoteParams`] is the wire form (strings, as the CLI and the RPC API
//! receive them); [`QuoteRequest::resolve`] validates it against a topology
//! into integers and indexes, naming the field of any error. [`Quote`] is
//! the search result, [`QuoteView`] its wire form with decimal strings.

use serde::{Deserialize, Serialize};
use switchyard_core::config::MAX_HOPS_LIMIT;
use switchyard_core::health::{Basis, Observed};
use switchyard_core::topology::{AssetIx, BridgeIx};
use switchyard_core::{Amount, Error, Result, U256};

use crate::graph::Graph;

/// Which routes a quote returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every non-dominated route over (amount, ETA, success probability).
    Pareto,
    /// Most received; ties by ETA, then success probability.
    Cheapest,
    /// Least ETA; ties by amount received, then success probability.
    Fastest,
    /// Highest success probability; ties by amount, then ETA.
    Safest,
    /// Least generalized cost under hard limits, see [`Weights`].
    Weighted,
}

impl Mode {
    /// All modes, for help texts and benchmarks.
    pub const ALL: [Mode; 5] = [
        Mode::Pareto,
        Mode::Cheapest,
        Mode::Fastest,
        Mode::Safest,
        Mode::Weighted,
    ];

    /// Parses a mode name; `field` names the input in errors.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        Ok(match s {
            "pareto" => Self::Pareto,
            "cheapest" => Self::Cheapest,
            "fastest" => Self::Fastest,
            "safest" => Self::Safest,
            "weighted" => Self::Weighted,
            _ => {
                return Err(Error::invalid(
                    field,
                    format!("{s:?} is not one of pareto, cheapest, fastest, safest, weighted"),
                ));
            }
        })
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pareto => "pareto",
            Self::Cheapest => "cheapest",
            Self::Fastest => "fastest",
            Self::Safest => "safest",
            Self::Weighted => "weighted",
        }
    }
}

/// Weights of the generalized cost used by [`Mode::Weighted`], all in USD:
///
/// `cost = fee * fee_usd + time * eta_hours + risk * (1 - success_p) * amount_usd`
///
/// i.e. the fee paid, what an hour of waiting is worth to the user, and the
/// expected loss. Floats, because this is a score, never money.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Multiplier of the fee in USD (default 1).
    #[serde(default = "w_one")]
    pub fee: f64,
    /// USD per hour of ETA (default 0).
    #[serde(default)]
    pub time: f64,
    /// Multiplier of the expected loss in USD (default 1).
    #[serde(default = "w_one")]
    pub risk: f64,
}

fn w_one() -> f64 {
    1.0
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            fee: 1.0,
            time: 0.0,
            risk: 1.0,
        }
    }
}

/// The request as received: strings and optional fields.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteParams {
    /// Source `chain:ASSET`.
    pub from: String,
    /// Destination `chain:ASSET`.
    pub to: String,
    /// Amount, decimal, in human units of the source asset.
    pub amount: String,
    /// `pareto` (default), `cheapest`, `fastest`, `safest`, `weighted`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Hop budget (default from config, 4).
    #[serde(default)]
    pub max_hops: Option<u64>,
    /// Weighted mode: cost weights.
    #[serde(default)]
    pub weights: Option<Weights>,
    /// Weighted mode: largest acceptable fee, decimal, in destination units.
    #[serde(default)]
    pub max_fee: Option<String>,
    /// Weighted mode: longest acceptable ETA, seconds.
    #[serde(default)]
    pub max_eta_s: Option<u64>,
    /// Weighted mode: lowest acceptable success probability.
    #[serde(default)]
    pub min_success_p: Option<f64>,
}

/// Hard limits of [`Mode::Weighted`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
    /// Largest fee in destination base units.
    pub max_fee: Option<U256>,
    /// Longest ETA.
    pub max_eta_s: Option<u64>,
    /// Lowest success probability.
    pub min_success_p: Option<f64>,
}

/// A validated request.
#[derive(Clone, Debug, PartialEq)]
pub struct QuoteRequest {
    /// Source node.
    pub from: AssetIx,
    /// Destination node.
    pub to: AssetIx,
    /// Amount in source base units, > 0.
    pub amount: U256,
    /// Mode.
    pub mode: Mode,
    /// Hop budget, 1..=8.
    pub max_hops: u8,
    /// Weighted mode weights.
    pub weights: Weights,
    /// Weighted mode limits.
    pub limits: Limits,
    /// Time of the quote (unix ms), for reading staleness.
    pub now_ms: u64,
}

impl QuoteRequest {
    /// Validates `p` against the graph's topology.
    pub fn resolve(
        graph: &Graph,
        p: &QuoteParams,
        default_max_hops: u8,
        now_ms: u64,
    ) -> Result<Self> {
        let t = graph.topology();
        let from = t.resolve_asset("from", &p.from)?;
        let to = t.resolve_asset("to", &p.to)?;
        if from == to {
            return Err(Error::invalid("to", "must differ from `from`"));
        }
        let amount = Amount::parse_decimal("amount", &p.amount, t.asset(from).decimals)?;
        if amount.is_zero() {
            return Err(Error::invalid("amount", "must be greater than zero"));
        }
        let mode = match &p.mode {
            Some(m) => Mode::parse("mode", m)?,
            None => Mode::Pareto,
        };
        let max_hops = match p.max_hops {
            None => default_max_hops,
            Some(h) => u8::try_from(h)
                .ok()
                .filter(|h| (1..=MAX_HOPS_LIMIT).contains(h))
                .ok_or_else(|| {
                    Error::invalid(
                        "max_hops",
                        format!("must be between 1 and {MAX_HOPS_LIMIT}"),
                    )
                })?,
        };
        let weights = p.weights.unwrap_or_default();
        for (name, w) in [
            ("weights.fee", weights.fee),
            ("weights.time", weights.time),
            ("weights.risk", weights.risk),
        ] {
            if !w.is_finite() || w < 0.0 {
                return Err(Error::invalid(name, "must be a finite number >= 0"));
            }
        }
        let max_fee = p
            .max_fee
            .as_deref()
            .map(|s| Amount::parse_decimal("max_fee", s, t.asset(to).decimals).map(|a| a.raw))
            .transpose()?;
        if let Some(q) = p.min_success_p
            && !(0.0..=1.0).contains(&q)
        {
            return Err(Error::invalid("min_success_p", "must be between 0 and 1"));
        }
        let limits = Limits {
            max_fee,
            max_eta_s: p.max_eta_s,
            min_success_p: p.min_success_p,
        };
        if mode != Mode::Weighted && (p.weights.is_some() || limits != Limits::default()) {
            let field = [
                ("weights", p.weights.is_some()),
                ("max_fee", p.max_fee.is_some()),
                ("max_eta_s", p.max_eta_s.is_some()),
                ("min_success_p", p.min_success_p.is_some()),
            ]
            .into_iter()
            .find_map(|(name, given)| given.then_some(name))
            .unwrap_or("weights");
            return Err(Error::invalid(
                field,
                "weights and limits apply to mode \"weighted\" only",
            ));
        }
        Ok(Self {
            from,
            to,
            amount: amount.raw,
            mode,
            max_hops,
            weights,
            limits,
            now_ms,
        })
    }
}

/// Why a bridge near the source or destination is not in the answer.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The bridge or one of its chains is paused by an operator.
    Paused,
    /// The bridge's or a chain's circuit breaker is open.
    BreakerOpen,
    /// A reading it depends on is too old.
    StaleReading,
    /// The request's USD value exceeds the bridge's single-transfer maximum.
    OverMax,
    /// The request's USD value exceeds the bridge's liquidity.
    OverLiquidity,
    /// Every amount that could reach it is below its minimum.
    BelowMin,
    /// Every amount that could reach it does not cover its fixed fee.
    FeeExceedsAmount,
    /// The amount reaching it does not fit 256 bits after conversion.
    AmountOverflow,
    /// Connected, but only by routes longer than the hop budget.
    HopBudget,
    /// No route from the source through it reaches the destination.
    NoRoute,
    /// Within the budget, but no feasible route brings funds to it.
    NoFeasiblePath,
    /// Funds reach it, but no feasible continuation reaches the destination.
    DeadEnd,
    /// Every route through it is dominated by a returned route.
    Dominated,
    /// Routes through it exist but another route ranks higher in this mode.
    Outranked,
    /// Its routes break the request's hard limits.
    OverLimits,
}

/// One route: bridges in order with the amount before and after each.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// Bridges, in order.
    pub bridges: Vec<BridgeIx>,
    /// `amounts[i]` enters leg `i`; the last is what arrives.
    pub amounts: Vec<U256>,
    /// ETA of each leg: the bridge's estimate plus its source chain's
    /// finality tier for the request's amount.
    pub leg_eta_s: Vec<u64>,
    /// Total ETA, seconds.
    pub eta_s: u64,
    /// Product of leg success probabilities.
    pub success_p: f64,
}

impl Route {
    /// Amount received in destination base units.
    pub fn amount_out(&self) -> U256 {
        self.amounts.last().copied().unwrap_or_default()
    }
}

/// A bridge left out of the answer and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Exclusion {
    /// The bridge.
    pub bridge: BridgeIx,
    /// Machine-readable reason.
    pub reason: Reason,
}

/// Counters of one search, for benchmarks and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Edges examined.
    pub relaxations: u64,
    /// Labels kept in bags.
    pub labels: u64,
}

/// The answer to a [`QuoteRequest`].
#[derive(Clone, Debug, PartialEq)]
pub struct Quote {
    /// Routes, best first (for pareto: by amount, then ETA, then probability).
    pub routes: Vec<Route>,
    /// Bridges leaving the source chain or entering the destination chain
    /// that no returned route uses, each with its reason.
    pub excluded: Vec<Exclusion>,
    /// Search counters.
    pub stats: SearchStats,
    /// The request answered, for rendering.
    pub request: QuoteRequest,
}

/// Wire form of a leg.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LegView {
    /// Bridge id.
    pub bridge: String,
    /// Source `chain:ASSET`.
    pub from: String,
    /// Destination `chain:ASSET`.
    pub to: String,
    /// Amount entering, human units of `from`.
    pub amount_in: String,
    /// Amount leaving, human units of `to`.
    pub amount_out: String,
    /// Leg ETA: the bridge's estimate plus `finality_wait_s`.
    pub eta_s: u64,
    /// Leg success probability (the estimate).
    #[serde(serialize_with = "round6")]
    pub success_p: f64,
    /// Seconds of `eta_s` the finality tiers for this amount add to the
    /// base rules of the source chain (before the release) and of the
    /// destination chain (after it).
    #[serde(default)]
    pub finality_wait_s: u64,
    /// The bridge's priors and what its executed hops showed.
    #[serde(default)]
    pub health: LegHealth,
    /// Why the ETA and probability are what they are, for a person.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A leg's priors beside its observations: why a route moved.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LegHealth {
    /// ETA before observations (a probe's reading, else the topology).
    pub prior_eta_s: u64,
    /// Success probability before observations.
    #[serde(serialize_with = "round6")]
    pub prior_success_p: f64,
    /// Whether the leg's ETA (before the finality tier) is the prior or
    /// the observed median.
    pub eta_basis: Basis,
    /// Whether its success probability is the prior or the prior moved by
    /// observations.
    pub success_basis: Basis,
    /// Executed hops over the window, when there were any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
    /// The observation window, seconds.
    pub window_s: u64,
}

/// The sentences of a leg: its finality tier for this amount, and what
/// its observations did to its priors.
fn leg_notes(graph: &Graph, req: &QuoteRequest, b: BridgeIx) -> Vec<String> {
    let t = graph.topology();
    let br = t.bridge(b);
    let e = graph.edge(b);
    let mut notes = Vec::new();
    let usd = graph.usd_value(req.from, req.amount);
    for (end, asset) in [("deposit", br.from), ("release", br.to)] {
        let chain = graph.chain_of(asset);
        let Some(tier) = usd.and_then(|usd| graph.tier_wait(chain, usd)) else {
            continue;
        };
        if tier.extra_s == 0 && !tier.tag_lag_unknown {
            continue;
        }
        let c = t.chain(chain);
        let mut s = format!(
            "finality: {} for amounts from ${} on {} ({end}: +{} blocks x {} ms = {} s over its base {})",
            tier.rule,
            grouped(tier.min_usd),
            c.id,
            tier.extra_blocks,
            c.block_time_ms,
            tier.extra_s,
            c.finality,
        );
        if tier.tag_lag_unknown {
            s.push_str("; how long its tag or commitment trails the head is not measured, so only its depth is counted");
        }
        notes.push(s);
    }
    let h = graph.health(b);
    if let Some(o) = h.observed.filter(|o| o.attempts > 0 || o.censored > 0) {
        let window = graph.snapshot().health.window_ms / 1000;
        let mut s = format!(
            "observed: {} of {} hops released in the last {window} s",
            o.successes, o.attempts
        );
        if o.censored > 0 {
            s.push_str(&format!(
                "; {} of {} under way are past the estimate and count at their age so far",
                o.censored, o.in_flight
            ));
        }
        if let (Some(p50), Some(p95)) = (o.latency_p50_s, o.latency_p95_s) {
            s.push_str(&format!(
                "; latency median {p50} s, p95 {p95} s over {} samples",
                o.latency_samples
            ));
        }
        s.push_str(&format!(
            "; success {:.4} from the prior {:.4}",
            e.success_p, h.prior_success_p
        ));
        match h.eta_basis {
            Basis::Observed => s.push_str(&format!(
                ", ETA {} s (observed median) instead of the prior {} s",
                e.eta_s, h.prior_eta_s
            )),
            Basis::Prior => s.push_str(&format!(
                ", ETA the prior {} s (fewer than {} latency samples)",
                h.prior_eta_s,
                graph.snapshot().health.min_latency_samples
            )),
        }
        notes.push(s);
    }
    notes
}

/// A USD value with thousands separators: `10,000`, `1,250.5`.
fn grouped(usd: switchyard_core::UsdE8) -> String {
    let text = usd.to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::with_capacity(text.len() + int.len() / 3);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// Wire form of a route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RouteView {
    /// Legs in order.
    pub legs: Vec<LegView>,
    /// Amount received, human units of the destination asset.
    pub amount_out: String,
    /// Total ETA.
    pub eta_s: u64,
    /// Success probability, rounded to 6 decimals (a product of leg
    /// probabilities carries float noise beyond that, and nothing below
    /// one in a million is meaningful for a prior).
    #[serde(serialize_with = "round6")]
    pub success_p: f64,
}

/// Serializes a probability rounded to 6 decimal places.
fn round6<S: serde::Serializer>(p: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64((p * 1e6).round() / 1e6)
}

/// Wire form of an exclusion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExclusionView {
    /// Bridge id.
    pub bridge: String,
    /// Reason code.
    pub reason: Reason,
    /// Sentence for a person.
    pub detail: String,
}

/// Wire form of a quote: the JSON the CLI prints and the API returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuoteView {
    /// Routes, best first.
    pub routes: Vec<RouteView>,
    /// Excluded bridges.
    pub excluded: Vec<ExclusionView>,
}

impl Quote {
    /// Renders the quote with names and decimal strings.
    pub fn view(&self, graph: &Graph) -> QuoteView {
        let t = graph.topology();
        let human = |a: AssetIx, raw: U256| Amount::from_raw(raw, t.asset(a).decimals).to_string();
        let routes = self
            .routes
            .iter()
            .map(|r| {
                let legs = r
                    .bridges
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| {
                        let br = t.bridge(b);
                        let e = graph.edge(b);
                        let eta_s = r.leg_eta_s.get(i).copied().unwrap_or(e.eta_s);
                        let window_s = graph.snapshot().health.window_ms / 1000;
                        LegView {
                            bridge: br.id.to_string(),
                            from: t.asset(br.from).key.to_string(),
                            to: t.asset(br.to).key.to_string(),
                            amount_in: human(br.from, r.amounts[i]),
                            amount_out: human(br.to, r.amounts[i + 1]),
                            eta_s,
                            success_p: e.success_p,
                            finality_wait_s: eta_s.saturating_sub(e.eta_s),
                            health: LegHealth {
                                prior_eta_s: graph.health(b).prior_eta_s,
                                prior_success_p: graph.health(b).prior_success_p,
                                eta_basis: graph.health(b).eta_basis,
                                success_basis: graph.health(b).success_basis,
                                observed: graph.health(b).observed,
                                window_s,
                            },
                            notes: leg_notes(graph, &self.request, b),
                        }
                    })
                    .collect();
                let last_to = r.bridges.last().map(|b| t.bridge(*b).to);
                RouteView {
                    legs,
                    amount_out: last_to
                        .map(|a| human(a, r.amount_out()))
                        .unwrap_or_default(),
                    eta_s: r.eta_s,
                    success_p: r.success_p,
                }
            })
            .collect();
        let excluded = self
            .excluded
            .iter()
            .map(|x| ExclusionView {
                bridge: t.bridge(x.bridge).id.to_string(),
                reason: x.reason,
                detail: crate::explain::describe(graph, &self.request, x.bridge, x.reason),
            })
            .collect();
        QuoteView { routes, excluded }
    }
}
