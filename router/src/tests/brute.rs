//! The oracle: enumerate every simple path of at most `max_hops` legs.

use switchyard_core::U256;

use crate::graph::Graph;
use crate::quote::{Mode, QuoteRequest};
use crate::search::lex_cmp;
use crate::{weighted_cost, within_limits};

/// A complete feasible route found by enumeration.
#[derive(Clone, Debug)]
pub struct Found {
    pub edges: Vec<u32>,
    pub amount: U256,
    pub eta: u64,
    pub p: f64,
}

impl Found {
    pub fn key(&self) -> (U256, u64, f64) {
        (self.amount, self.eta, self.p)
    }
}

pub fn all_routes(g: &Graph, req: &QuoteRequest) -> Vec<Found> {
    let mut out = Vec::new();
    let usd = g
        .usd_value(req.from, req.amount)
        .expect("small test amounts");
    let mut path_nodes = vec![req.from.0];
    let mut path_edges = Vec::new();
    walk(
        g,
        req,
        usd,
        req.amount,
        0,
        1.0,
        &mut path_nodes,
        &mut path_edges,
        &mut out,
    );
    out
}

#[allow(clippy::too_many_arguments)]
fn walk(
    g: &Graph,
    req: &QuoteRequest,
    usd: switchyard_core::UsdE8,
    amount: U256,
    eta: u64,
    p: f64,
    nodes: &mut Vec<u32>,
    edges: &mut Vec<u32>,
    out: &mut Vec<Found>,
) {
    let here = *nodes.last().unwrap();
    if here == req.to.0 {
        out.push(Found {
            edges: edges.clone(),
            amount,
            eta,
            p,
        });
        return;
    }
    if edges.len() >= usize::from(req.max_hops) {
        return;
    }
    for (i, e) in g.edges.iter().enumerate() {
        if e.from != here
            || nodes.contains(&e.to)
            || g.static_exclusion(i, req.now_ms, usd).is_some()
        {
            continue;
        }
        let Ok(next) = e.leg.output(amount) else {
            continue;
        };
        nodes.push(e.to);
        edges.push(i as u32);
        // Deposit at the source's tier, release at the destination's.
        let tier = g.leg_tier_s(e, Some(usd));
        walk(
            g,
            req,
            usd,
            next,
            eta + e.eta_s + tier,
            p * e.success_p,
            nodes,
            edges,
            out,
        );
        nodes.pop();
        edges.pop();
    }
}

fn dominates(a: (U256, u64, f64), b: (U256, u64, f64)) -> bool {
    a.0 >= b.0 && a.1 <= b.1 && a.2 >= b.2 && a != b
}

/// The Pareto set of objective vectors, deduplicated, best first.
pub fn pareto(routes: &[Found]) -> Vec<(U256, u64, f64)> {
    let mut v: Vec<_> = routes
        .iter()
        .map(Found::key)
        .filter(|k| !routes.iter().any(|r| dominates(r.key(), *k)))
        .collect();
    v.sort_by(|a, b| lex_cmp(Mode::Cheapest, *b, *a));
    v.dedup();
    v
}

/// The best vector for a single-objective or weighted mode.
pub fn best(g: &Graph, req: &QuoteRequest, routes: &[Found]) -> Option<(U256, u64, f64)> {
    match req.mode {
        Mode::Weighted => routes
            .iter()
            .map(Found::key)
            .filter(|k| within_limits(g, req, *k))
            .min_by(|a, b| {
                weighted_cost(g, req, *a)
                    .total_cmp(&weighted_cost(g, req, *b))
                    .then_with(|| lex_cmp(Mode::Cheapest, *b, *a))
            }),
        m => routes
            .iter()
            .map(Found::key)
            .max_by(|a, b| lex_cmp(m, *a, *b)),
    }
}
