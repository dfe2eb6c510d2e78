//! Why each bridge near the request was left out.
//!
//! Candidates are the bridges leaving the source chain and those entering
//! the destination chain. Each unused candidate gets the first reason that
//! applies, in this order: a static one (pause, breaker, stale reading,
//! over max, over liquidity); the shape of the graph (it returns to the
//! source asset or leaves the destination asset; no route at all; only
//! routes over the hop budget); then what the search saw (amounts below
//! minimum or fee, funds that never arrive, dead ends, dominated or
//! outranked routes, hard limits).

use switchyard_core::topology::BridgeIx;
use switchyard_core::{Amount, U256};

use crate::graph::{FAR, Graph};
use crate::quote::{Exclusion, Mode, QuoteRequest, Reason, Route};
use crate::search::flag;

/// Decides the reason of every unused candidate. Cheap: no text is made
/// here; [`describe`] writes the sentence when the quote is rendered.
pub(crate) fn explain(
    g: &Graph,
    req: &QuoteRequest,
    routes: &[Route],
    flags: &[u8],
    pruned: bool,
    over_limits: &[u32],
) -> Vec<Exclusion> {
    let src_chain = g.node_chain[req.from.ix()];
    let dst_chain = g.node_chain[req.to.ix()];
    let mut used: Vec<u32> = routes
        .iter()
        .flat_map(|r| r.bridges.iter().map(|b| b.0))
        .collect();
    used.sort_unstable();
    let mut limited = over_limits.to_vec();
    limited.sort_unstable();
    let request_usd = g.usd_value(req.from, req.amount);
    let to_dst = g.hops_to(req.to.0);
    let mut out = Vec::new();
    let leaving = g.chain_out[src_chain.ix()].iter();
    // Edges both leaving the source chain and entering the destination
    // chain are in both lists; take them from the first only.
    let entering = g.chain_in[dst_chain.ix()]
        .iter()
        .filter(|&&e| g.node_chain[g.edges[e as usize].from as usize] != src_chain);
    for &e in leaving.chain(entering) {
        let i = e as usize;
        if used.binary_search(&e).is_ok() {
            continue;
        }
        let reason = match request_usd {
            None => Reason::OverMax,
            Some(usd) => match g.static_reason(i, req.now_ms, usd) {
                Some(r) => r,
                None => {
                    let dist = distances(g, req, i, &to_dst);
                    let f = flags[i];
                    let amount_reason = f & flag::CROSSED == 0
                        && f & (flag::BELOW_MIN | flag::FEE | flag::OVERFLOW) != 0;
                    // Funds that a pruned label carried (beaten by a
                    // returned route) might have reached the bridge with
                    // enough for its minimum or fee; only at the source is
                    // the request's own amount all there is (simple routes
                    // never come back to it).
                    let unsure = pruned && amount_reason && g.edges[i].from != req.from.0;
                    dynamic_reason(
                        req,
                        &g.edges[i],
                        f,
                        limited.binary_search(&e).is_ok(),
                        pruned,
                        unsure,
                        dist,
                    )
                }
            },
        };
        out.push(Exclusion {
            bridge: BridgeIx(e),
            reason,
        });
    }
    out.sort_by_key(|x| x.bridge);
    out
}

/// Lower bounds on the legs from the source to the edge and from the edge
/// to the destination, over all edges.
fn distances(g: &Graph, req: &QuoteRequest, i: usize, to_dst: &[u8]) -> (u8, u8) {
    let from_src = g.hops_to(g.edges[i].from)[req.from.ix()];
    (from_src, to_dst[g.edges[i].to as usize])
}

fn dynamic_reason(
    req: &QuoteRequest,
    edge: &crate::graph::Edge,
    f: u8,
    limited: bool,
    pruned: bool,
    amount_unsure: bool,
    (ds, dt): (u8, u8),
) -> Reason {
    if edge.to == req.from.0 || edge.from == req.to.0 || ds == FAR || dt == FAR {
        return Reason::NoRoute;
    }
    if u64::from(ds) + 1 + u64::from(dt) > u64::from(req.max_hops) {
        return Reason::HopBudget;
    }
    if f & flag::CROSSED != 0 {
        if limited && f & flag::COMPLETES != 0 && req.mode == Mode::Weighted {
            return Reason::OverLimits;
        }
        if f & (flag::COMPLETES | flag::PRUNED) != 0 {
            return beaten(req.mode);
        }
        return Reason::DeadEnd;
    }
    if amount_unsure {
        // A label pruned because a returned route beats everything it
        // could lead to might have brought enough: beaten, not too small.
        return beaten(req.mode);
    }
    if f & flag::BELOW_MIN != 0 {
        return Reason::BelowMin;
    }
    if f & flag::FEE != 0 {
        return Reason::FeeExceedsAmount;
    }
    if f & flag::OVERFLOW != 0 {
        return Reason::AmountOverflow;
    }
    if pruned {
        // Funds may have reached it only along routes that were pruned
        // because a returned route beats everything they could lead to.
        return beaten(req.mode);
    }
    Reason::NoFeasiblePath
}

fn beaten(mode: Mode) -> Reason {
    match mode {
        Mode::Pareto => Reason::Dominated,
        _ => Reason::Outranked,
    }
}

fn human(g: &Graph, node: u32, raw: U256) -> String {
    let a = &g.topology().assets()[node as usize];
    format!("{} {}", Amount::from_raw(raw, a.decimals), a.key.symbol)
}

/// The sentence a person reads for `reason` on bridge `b`.
pub(crate) fn describe(g: &Graph, req: &QuoteRequest, b: BridgeIx, reason: Reason) -> String {
    let i = b.ix();
    let edge = &g.edges[i];
    let t = g.topology();
    let name = |n: u32| t.assets()[n as usize].key.to_string();
    let usd = g.usd_value(req.from, req.amount);
    match reason {
        Reason::Paused | Reason::BreakerOpen | Reason::StaleReading | Reason::OverLiquidity => usd
            .and_then(|u| g.static_exclusion(i, req.now_ms, u))
            .map(|(_, d)| d)
            .unwrap_or_default(),
        Reason::OverMax => match usd.and_then(|u| g.static_exclusion(i, req.now_ms, u)) {
            Some((_, d)) => d,
            None => "the request's USD value does not fit 256 bits".into(),
        },
        Reason::NoRoute => {
            let (ds, dt) = distances(g, req, i, &g.hops_to(req.to.0));
            if edge.to == req.from.0 {
                format!("it leads back to the source asset {}", name(edge.to))
            } else if edge.from == req.to.0 {
                format!("it leaves the destination asset {}", name(edge.from))
            } else if ds == FAR {
                format!("no bridges lead from {} to {}", name(req.from.0), name(edge.from))
            } else if dt == FAR {
                format!("no bridges lead from {} to {}", name(edge.to), name(req.to.0))
            } else {
                "no route through it reaches the destination".into()
            }
        }
        Reason::HopBudget => {
            let (ds, dt) = distances(g, req, i, &g.hops_to(req.to.0));
            let shortest = u64::from(ds) + 1 + u64::from(dt);
            format!("a route through it needs at least {shortest} legs; the budget is {}", req.max_hops)
        }
        Reason::BelowMin => format!("the amount reaching it is below its minimum of {}", human(g, edge.from, edge.leg.min)),
        Reason::FeeExceedsAmount => format!(
            "the amount reaching it does not cover its fixed fee of {}",
            human(g, edge.from, edge.leg.fixed)
        ),
        Reason::AmountOverflow => "the converted amount does not fit 256 bits".into(),
        Reason::NoFeasiblePath => format!(
            "no feasible route brings funds to {} within {} legs",
            name(edge.from),
            req.max_hops
        ),
        Reason::DeadEnd => format!(
            "funds reach {} but no feasible continuation reaches {} within the budget",
            name(edge.to),
            name(req.to.0)
        ),
        Reason::Dominated => "no route through it is both feasible and undominated: returned routes match or beat it on amount, ETA and success".into(),
        Reason::Outranked => format!("another route ranks higher for mode {}", req.mode.as_str()),
        Reason::OverLimits => "its routes exceed the request's fee, ETA or success limits".into(),
    }
}
