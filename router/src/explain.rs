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

use std::collections::{HashSet, VecDeque};

use switchyard_core::topology::BridgeIx;

use crate::graph::Graph;
use crate::quote::{Exclusion, Mode, QuoteRequest, Reason, Route};
use crate::search::{any_pruned, flag};

const UNREACHED: u32 = u32::MAX;

pub(crate) fn explain(g: &Graph, req: &QuoteRequest, routes: &[Route], flags: &[u8], over_limits: &[u32]) -> Vec<Exclusion> {
    let t = g.topology();
    let src_chain = g.node_chain[req.from.ix()];
    let dst_chain = g.node_chain[req.to.ix()];
    let used: HashSet<u32> = routes.iter().flat_map(|r| r.bridges.iter().map(|b| b.0)).collect();
    let limited: HashSet<u32> = over_limits.iter().copied().collect();
    let request_usd = g.usd_value(req.from, req.amount);
    let mut dist: Option<(Vec<u32>, Vec<u32>)> = None;
    let pruned = any_pruned(flags);
    let mut out = Vec::new();
    for (i, edge) in g.edges.iter().enumerate() {
        let touches = g.node_chain[edge.from as usize] == src_chain || g.node_chain[edge.to as usize] == dst_chain;
        if !touches || used.contains(&(i as u32)) {
            continue;
        }
        let (reason, detail) = match request_usd {
            None => (Reason::OverMax, "the request's USD value does not fit 256 bits".to_string()),
            Some(usd) => match g.static_exclusion(i, req.now_ms, usd) {
                Some(x) => x,
                None => {
                    let (fwd, bwd) = dist.get_or_insert_with(|| distances(g, req, usd));
                    dynamic_reason(g, req, i, flags[i], limited.contains(&(i as u32)), pruned, fwd, bwd)
                }
            },
        };
        out.push(Exclusion {
            bridge: BridgeIx(i as u32),
            reason,
            detail,
        });
    }
    out.sort_by(|a, b| t.bridge(a.bridge).id.cmp(&t.bridge(b.bridge).id));
    out
}

fn dynamic_reason(
    g: &Graph,
    req: &QuoteRequest,
    i: usize,
    f: u8,
    limited: bool,
    pruned: bool,
    fwd: &[u32],
    bwd: &[u32],
) -> (Reason, String) {
    let edge = &g.edges[i];
    let t = g.topology();
    let name = |n: u32| t.assets()[n as usize].key.to_string();
    if edge.to == req.from.0 {
        return (Reason::NoRoute, format!("it leads back to the source asset {}", name(edge.to)));
    }
    if edge.from == req.to.0 {
        return (Reason::NoRoute, format!("it leaves the destination asset {}", name(edge.from)));
    }
    let (ds, dt) = (fwd[edge.from as usize], bwd[edge.to as usize]);
    if ds == UNREACHED || dt == UNREACHED {
        let why = if ds == UNREACHED {
            format!("no usable bridges lead from {} to {}", name(req.from.0), name(edge.from))
        } else {
            format!("no usable bridges lead from {} to {}", name(edge.to), name(req.to.0))
        };
        return (Reason::NoRoute, why);
    }
    let shortest = u64::from(ds) + 1 + u64::from(dt);
    if shortest > u64::from(req.max_hops) {
        return (
            Reason::HopBudget,
            format!("the shortest route through it has {shortest} legs, the budget is {}", req.max_hops),
        );
    }
    if f & flag::CROSSED != 0 {
        if limited && f & flag::COMPLETES != 0 && req.mode == Mode::Weighted {
            return (Reason::OverLimits, "its routes exceed the request's fee, ETA or success limits".into());
        }
        if f & (flag::COMPLETES | flag::PRUNED) != 0 {
            return beaten(req.mode);
        }
        return (
            Reason::DeadEnd,
            format!("funds reach {} but no feasible continuation reaches {}", name(edge.to), name(req.to.0)),
        );
    }
    if f & flag::BELOW_MIN != 0 {
        return (Reason::BelowMin, format!("the amount reaching it is below its minimum of {}", human(g, edge.from, edge.leg.min)));
    }
    if f & flag::FEE != 0 {
        return (
            Reason::FeeExceedsAmount,
            format!("the amount reaching it does not cover its fixed fee of {}", human(g, edge.from, edge.leg.fixed)),
        );
    }
    if f & flag::OVERFLOW != 0 {
        return (Reason::AmountOverflow, "the converted amount does not fit 256 bits".into());
    }
    if pruned {
        // Funds may have reached it only along routes that were pruned
        // because a returned route beats everything they could lead to.
        return beaten(req.mode);
    }
    (
        Reason::NoFeasiblePath,
        format!("no feasible route brings funds to {} within {} legs", name(edge.from), req.max_hops),
    )
}

fn beaten(mode: Mode) -> (Reason, String) {
    match mode {
        Mode::Pareto => (
            Reason::Dominated,
            "no route through it is both feasible and undominated: returned routes match or beat it on amount, ETA and success".into(),
        ),
        m => (Reason::Outranked, format!("another route ranks higher for mode {}", m.as_str())),
    }
}

fn human(g: &Graph, node: u32, raw: switchyard_core::U256) -> String {
    let a = &g.topology().assets()[node as usize];
    format!("{} {}", switchyard_core::Amount::from_raw(raw, a.decimals), a.key.symbol)
}

/// Hop distances over usable edges: from the source to every node, and
/// from every node to the destination. Amounts are ignored.
fn distances(g: &Graph, req: &QuoteRequest, usd: switchyard_core::UsdE8) -> (Vec<u32>, Vec<u32>) {
    let n = g.node_count();
    let usable: Vec<bool> = (0..g.edge_count())
        .map(|i| g.static_exclusion(i, req.now_ms, usd).is_none())
        .collect();
    let mut rev: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, e) in g.edges.iter().enumerate() {
        if usable[i] {
            rev[e.to as usize].push(e.from);
        }
    }
    let bfs = |start: u32, next: &dyn Fn(u32) -> Vec<u32>| {
        let mut d = vec![UNREACHED; n];
        d[start as usize] = 0;
        let mut q = VecDeque::from([start]);
        while let Some(v) = q.pop_front() {
            for w in next(v) {
                if d[w as usize] == UNREACHED {
                    d[w as usize] = d[v as usize] + 1;
                    q.push_back(w);
                }
            }
        }
        d
    };
    // A simple route never passes through its destination before the end,
    // nor returns to its source: the searches do not expand through them.
    let fwd = bfs(req.from.0, &|v| {
        if v == req.to.0 {
            return Vec::new();
        }
        g.out(v)
            .iter()
            .filter(|&&e| usable[e as usize])
            .map(|&e| g.edges[e as usize].to)
            .collect()
    });
    let bwd = bfs(req.to.0, &|v| if v == req.from.0 { Vec::new() } else { rev[v as usize].clone() });
    (fwd, bwd)
}
