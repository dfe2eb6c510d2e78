//! Exact route search over the Switchyard network model. Pure: no I/O, no
//! clocks (the caller passes `now_ms`), no locks.
//!
//! ```text
//! NetworkSnapshot --Graph::compile--> Graph --quote(&QuoteRequest)--> Quote
//! ```
//!
//! A route is a simple path of bridges (no asset visited twice) of at most
//! `max_hops` legs. Objectives: amount received (more is better), total
//! ETA (less), success probability (more). [`Mode::Pareto`] returns every
//! non-dominated objective vector once; the single-objective modes return
//! the lexicographic best; [`Mode::Weighted`] the least generalized cost
//! within hard limits. Every bridge leaving the source chain or entering
//! the destination chain that no returned route uses is listed with a
//! [`Reason`].

mod explain;
pub mod graph;
pub mod leg;
pub mod quote;
mod search;

pub use graph::Graph;
pub use quote::{
    Exclusion, Limits, Mode, Quote, QuoteParams, QuoteRequest, QuoteView, Reason, Route,
    SearchStats, Weights,
};

use std::cmp::Ordering;

use switchyard_core::{Amount, U256};

use search::{Label, lex_cmp, search, to_route};

/// Answers `req` on `graph`.
pub fn quote(graph: &Graph, req: &QuoteRequest) -> Quote {
    let out = search(graph, req);
    let mut labels: Vec<Label> = out.target;
    let mut over_limits: Vec<u32> = Vec::new();
    match req.mode {
        Mode::Pareto => {
            labels.sort_by(|a, b| lex_cmp(Mode::Cheapest, key(b), key(a)));
        }
        Mode::Cheapest | Mode::Fastest | Mode::Safest => {}
        Mode::Weighted => {
            let (ok, bad): (Vec<Label>, Vec<Label>) = labels
                .into_iter()
                .partition(|l| within_limits(graph, req, key(l)));
            over_limits = bad.iter().flat_map(|l| l.edge_list().to_vec()).collect();
            labels = ok
                .into_iter()
                .map(|l| (weighted_cost(graph, req, key(&l)), l))
                .min_by(|(ca, a), (cb, b)| {
                    ca.total_cmp(cb)
                        .then_with(|| lex_cmp(Mode::Cheapest, key(b), key(a)))
                })
                .map(|(_, l)| vec![l])
                .unwrap_or_default();
        }
    }
    let usd = graph.usd_value(req.from, req.amount);
    let routes: Vec<Route> = labels
        .iter()
        .map(|l| to_route(graph, req, usd, l))
        .collect();
    let excluded = explain::explain(
        graph,
        req,
        &routes,
        &out.flags,
        out.pruned_any,
        &over_limits,
    );
    Quote {
        routes,
        excluded,
        stats: out.stats,
        request: req.clone(),
    }
}

fn key(l: &Label) -> (U256, u64, f64) {
    (l.amount, l.eta, l.p)
}

/// Fee in destination base units: the request rescaled to the destination's
/// decimals (rounded down) minus what arrives. Never negative, because no
/// leg creates value.
pub fn fee_in_destination_units(graph: &Graph, req: &QuoteRequest, amount_out: U256) -> U256 {
    let src_dec = graph.decimals(req.from);
    let dst_dec = graph.decimals(req.to);
    let sent = Amount::from_raw(req.amount, src_dec)
        .rescale_floor(dst_dec)
        .map(|a| a.raw)
        .unwrap_or(U256::MAX);
    sent.saturating_sub(amount_out)
}

/// Whether a route with objective vector `(amount, eta, p)` meets the
/// request's hard limits.
pub(crate) fn within_limits(
    graph: &Graph,
    req: &QuoteRequest,
    (amount, eta, p): (U256, u64, f64),
) -> bool {
    let lim = &req.limits;
    lim.max_eta_s.is_none_or(|m| eta <= m)
        && lim.min_success_p.is_none_or(|m| p >= m)
        && lim
            .max_fee
            .is_none_or(|m| fee_in_destination_units(graph, req, amount) <= m)
}

/// Generalized cost of a route with objective vector `(amount, eta, p)`.
pub(crate) fn weighted_cost(
    graph: &Graph,
    req: &QuoteRequest,
    (amount, eta, p): (U256, u64, f64),
) -> f64 {
    let fee = fee_in_destination_units(graph, req, amount);
    let fee_usd = graph
        .usd_value(req.to, fee)
        .map_or(f64::INFINITY, |u| u.to_f64());
    let amount_usd = graph
        .usd_value(req.from, req.amount)
        .map_or(f64::INFINITY, |u| u.to_f64());
    let w = req.weights;
    let cost = w.fee * fee_usd + w.time * (eta as f64 / 3600.0) + w.risk * (1.0 - p) * amount_usd;
    if cost.is_nan() { f64::INFINITY } else { cost }
}

/// Ordering used to rank routes in [`Mode::Pareto`] output and to break
/// ties: more received, then faster, then safer.
pub fn rank(a: &Route, b: &Route) -> Ordering {
    lex_cmp(
        Mode::Cheapest,
        (b.amount_out(), b.eta_s, b.success_p),
        (a.amount_out(), a.eta_s, a.success_p),
    )
}

#[cfg(test)]
mod tests;
