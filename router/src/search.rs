//! Round-based multi-criteria search (McRAPTOR style).
//!
//! Round `k` extends the labels created in round `k - 1` by one leg, so
//! after round `k` every bag holds the non-dominated simple paths of at most
//! `k` legs that survived pruning. A label is `(amount, eta, success_p)` at
//! a node; at one node all amounts are in the same asset, so dominance is
//! plain component-wise comparison.
//!
//! Why pruning is exact (for the set of objective vectors):
//! * Every leg is monotone in its input (more in, at least as much out, and
//!   feasible whenever a smaller input is) and never creates value
//!   (`out / 10^to_dec <= in / 10^from_dec`); ETAs are non-negative and
//!   probabilities at most one.
//! * So if label `A` dominates `B` at a node, any continuation of `B` done
//!   from `A` is at least as good. If that continuation would revisit a node
//!   of `A`'s path, cutting out the cycle gives a shorter simple path that is
//!   at least as good again (the cycle returns to the same asset with no
//!   more than it started with). By induction on the number of legs, every
//!   Pareto-optimal vector is found.
//! * Target pruning: a label whose best conceivable result (its amount
//!   rescaled to the destination's decimals, its ETA, its probability) is
//!   already dominated by a route at the destination cannot lead to a new
//!   vector. In single-objective modes the bound is compared
//!   lexicographically against the best route found so far, which prunes far
//!   more.
//!
//! The search never allocates per relaxation; a label is a fixed-size value.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::sync::OnceLock;

use switchyard_core::U256;
use switchyard_core::amount::pow10;
use switchyard_core::config::MAX_HOPS_LIMIT;
use switchyard_core::topology::BridgeIx;

use crate::graph::Graph;
use crate::leg::LegFailure;
use crate::quote::{Mode, QuoteRequest, Route, SearchStats};

pub(crate) const MAX_HOPS: usize = MAX_HOPS_LIMIT as usize;

/// `10^i` as [`U256`] for every `i` whose power fits (0..=77).
fn pow10_table() -> &'static [U256; 78] {
    static T: OnceLock<[U256; 78]> = OnceLock::new();
    T.get_or_init(|| std::array::from_fn(|i| pow10(i as u32).unwrap_or(U256::MAX)))
}

/// Per-edge facts gathered during a search, for explanations.
pub(crate) mod flag {
    pub const CROSSED: u8 = 1;
    pub const COMPLETES: u8 = 2;
    pub const PRUNED: u8 = 4;
    pub const BELOW_MIN: u8 = 8;
    pub const FEE: u8 = 16;
    pub const OVERFLOW: u8 = 32;
    pub const EXCLUDED: u8 = 64;
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Label {
    pub amount: U256,
    pub eta: u64,
    pub p: f64,
    pub hops: u8,
    pub nodes: [u32; MAX_HOPS + 1],
    pub edges: [u32; MAX_HOPS],
}

impl Label {
    fn node(&self) -> u32 {
        self.nodes[self.hops as usize]
    }

    fn visits(&self, n: u32) -> bool {
        self.nodes[..=self.hops as usize].contains(&n)
    }

    fn weakly_dominates(&self, o: &Label) -> bool {
        self.amount >= o.amount && self.eta <= o.eta && self.p >= o.p
    }

    pub fn edge_list(&self) -> &[u32] {
        &self.edges[..self.hops as usize]
    }
}

/// Lexicographic comparison for single-objective modes; `Greater` is better.
pub(crate) fn lex_cmp(mode: Mode, a: (U256, u64, f64), b: (U256, u64, f64)) -> Ordering {
    let amount = a.0.cmp(&b.0);
    let time = b.1.cmp(&a.1);
    let safety = a.2.total_cmp(&b.2);
    match mode {
        Mode::Fastest => time.then(amount).then(safety),
        Mode::Safest => safety.then(amount).then(time),
        _ => amount.then(time).then(safety),
    }
}

pub(crate) struct SearchOutput {
    /// Labels at the destination: the Pareto set, or the single best.
    pub target: Vec<Label>,
    pub flags: Vec<u8>,
    /// Whether any label was pruned by dominance or by a better route.
    pub pruned_any: bool,
    pub stats: SearchStats,
}

/// How an amount at a node turns into the destination's decimals,
/// rounding down.
#[derive(Clone, Copy)]
enum Rescale {
    Same,
    Up(U256),
    Down(U256),
}

/// Per-thread bags, kept between searches so a quote does not allocate a
/// vector per touched node. Every bag is left empty after a search.
struct Scratch {
    bags: Vec<Vec<Label>>,
    used: Vec<u32>,
    /// Extra finality seconds per node (its chain's tier) for this
    /// request's amount.
    wait: Vec<u64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch { bags: Vec::new(), used: Vec::new(), wait: Vec::new() }) };
}

pub(crate) fn search(g: &Graph, req: &QuoteRequest) -> SearchOutput {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let s = &mut *scratch;
            if s.bags.len() < g.node_count() {
                s.bags.resize_with(g.node_count(), Vec::new);
            }
            // The finality tier is the request's (see `to_route`): one wait
            // per chain for the whole query (a leg waits for its source
            // chain's tier before the release and its destination's after),
            // so every edge's ETA stays a constant of the query and
            // dominance stays exact. Kept per node so the hot loop reads one
            // array, and compiled out when no tier applies (small amounts,
            // chains without tiers).
            let usd = g.usd_value(req.from, req.amount);
            let out = if g.tier_extra_into(usd, &mut s.wait) {
                search_in::<true>(g, req, &mut s.bags, &mut s.used, &s.wait)
            } else {
                search_in::<false>(g, req, &mut s.bags, &mut s.used, &[])
            };
            for &n in &s.used {
                s.bags[n as usize].clear();
            }
            s.used.clear();
            out
        }
        // Re-entered on this thread (cannot happen today): use fresh bags.
        Err(_) => {
            let mut wait = Vec::new();
            let usd = g.usd_value(req.from, req.amount);
            let any = g.tier_extra_into(usd, &mut wait);
            let mut bags = vec![Vec::new(); g.node_count()];
            if any {
                search_in::<true>(g, req, &mut bags, &mut Vec::new(), &wait)
            } else {
                search_in::<false>(g, req, &mut bags, &mut Vec::new(), &[])
            }
        }
    })
}

/// `WAIT`: whether `wait` (extra finality seconds per node) applies.
fn search_in<const WAIT: bool>(
    g: &Graph,
    req: &QuoteRequest,
    bags: &mut [Vec<Label>],
    used: &mut Vec<u32>,
    wait: &[u64],
) -> SearchOutput {
    let n = g.node_count();
    let src = req.from.0;
    let dst = req.to.0;
    let lexical = matches!(req.mode, Mode::Cheapest | Mode::Fastest | Mode::Safest);
    let request_usd = g.usd_value(req.from, req.amount);
    let dst_dec = g.decimals[dst as usize];
    let p10 = pow10_table();
    let rescale_of = |node: u32| {
        let d = g.decimals[node as usize];
        match d.cmp(&dst_dec) {
            Ordering::Equal => Rescale::Same,
            Ordering::Less => Rescale::Up(p10[usize::from(dst_dec - d).min(77)]),
            Ordering::Greater => Rescale::Down(p10[usize::from(d - dst_dec).min(77)]),
        }
    };
    // Lower bound on the legs still needed from each node: a label that
    // cannot reach the destination within the budget is never made.
    let to_dst = g.hops_to(dst);

    let mut flags = vec![0u8; g.edge_count()];
    let mut stats = SearchStats::default();
    let mut best: Option<Label> = None;
    let mut touched: Vec<u32> = Vec::new();
    let mut is_touched = vec![false; n];

    let start = Label {
        amount: req.amount,
        eta: 0,
        p: 1.0,
        hops: 0,
        nodes: [src; MAX_HOPS + 1],
        edges: [0; MAX_HOPS],
    };
    let mut frontier = vec![start];
    let hops = usize::from(req.max_hops).min(MAX_HOPS);
    let mut pruned_any = false;

    for round in 1..=hops {
        for l in &frontier {
            let (out, out_to) = g.out(l.node());
            let left = hops - usize::from(l.hops) - 1;
            let tier_s = if WAIT {
                wait.get(l.node() as usize).copied().unwrap_or(0)
            } else {
                0
            };
            for (&e, &to) in out.iter().zip(out_to) {
                stats.relaxations += 1;
                if usize::from(to_dst[to as usize]) > left || l.visits(to) {
                    continue;
                }
                let ei = e as usize;
                let edge = &g.edges[ei];
                let usable = match request_usd {
                    Some(usd) => g.static_reason(ei, req.now_ms, usd).is_none(),
                    None => false,
                };
                if !usable {
                    flags[ei] |= flag::EXCLUDED;
                    continue;
                }
                let out = match edge.leg.output(l.amount) {
                    Ok(v) => v,
                    Err(LegFailure::BelowMin) => {
                        flags[ei] |= flag::BELOW_MIN;
                        continue;
                    }
                    Err(LegFailure::FeeExceedsAmount) => {
                        flags[ei] |= flag::FEE;
                        continue;
                    }
                    Err(LegFailure::Overflow) => {
                        flags[ei] |= flag::OVERFLOW;
                        continue;
                    }
                };
                flags[ei] |= flag::CROSSED;
                let h = l.hops as usize;
                let mut next = *l;
                next.amount = out;
                next.eta = l.eta.saturating_add(edge.eta_s);
                if WAIT {
                    let release_s = wait.get(to as usize).copied().unwrap_or(0);
                    next.eta = next.eta.saturating_add(tier_s).saturating_add(release_s);
                }
                next.p = l.p * edge.success_p;
                next.hops += 1;
                next.nodes[h + 1] = edge.to;
                next.edges[h] = e;

                if edge.to == dst {
                    mark(&mut flags, &next, flag::COMPLETES);
                }
                // Target pruning.
                if lexical {
                    if let Some(b) = &best {
                        let bound = bound_amount(next.amount, rescale_of(edge.to));
                        if lex_cmp(req.mode, (bound, next.eta, next.p), (b.amount, b.eta, b.p))
                            != Ordering::Greater
                        {
                            mark(&mut flags, &next, flag::PRUNED);
                            pruned_any = true;
                            continue;
                        }
                    }
                    if edge.to == dst {
                        if let Some(old) = best.replace(next) {
                            mark(&mut flags, &old, flag::PRUNED);
                            pruned_any = true;
                        }
                        continue;
                    }
                } else if edge.to != dst && !bags[dst as usize].is_empty() {
                    let bound = bound_amount(next.amount, rescale_of(edge.to));
                    if bags[dst as usize]
                        .iter()
                        .any(|t| t.amount >= bound && t.eta <= next.eta && t.p >= next.p)
                    {
                        mark(&mut flags, &next, flag::PRUNED);
                        pruned_any = true;
                        continue;
                    }
                }
                let bag = &mut bags[edge.to as usize];
                if bag.iter().any(|o| o.weakly_dominates(&next)) {
                    mark(&mut flags, &next, flag::PRUNED);
                    pruned_any = true;
                    continue;
                }
                bag.retain(|o| {
                    let keep = !next.weakly_dominates(o);
                    if !keep {
                        pruned_any = true;
                        for &pe in o.edge_list() {
                            flags[pe as usize] |= flag::PRUNED;
                        }
                    }
                    keep
                });
                if bag.is_empty() {
                    used.push(edge.to);
                }
                bag.push(next);
                stats.labels += 1;
                if !is_touched[edge.to as usize] {
                    is_touched[edge.to as usize] = true;
                    touched.push(edge.to);
                }
            }
        }
        frontier.clear();
        for &t in &touched {
            is_touched[t as usize] = false;
            if t == dst {
                continue;
            }
            let r = rescale_of(t);
            for l in bags[t as usize].iter().filter(|l| l.hops as usize == round) {
                // The best route may have improved since this label was kept.
                let beaten = best.as_ref().is_some_and(|b| {
                    lex_cmp(
                        req.mode,
                        (bound_amount(l.amount, r), l.eta, l.p),
                        (b.amount, b.eta, b.p),
                    ) != Ordering::Greater
                });
                if beaten {
                    mark(&mut flags, l, flag::PRUNED);
                    pruned_any = true;
                } else {
                    frontier.push(*l);
                }
            }
        }
        touched.clear();
        if frontier.is_empty() {
            break;
        }
    }
    let target = if lexical {
        best.into_iter().collect()
    } else {
        bags[dst as usize].clone()
    };
    SearchOutput {
        target,
        flags,
        pruned_any,
        stats,
    }
}

#[inline]
fn bound_amount(amount: U256, r: Rescale) -> U256 {
    match r {
        Rescale::Same => amount,
        Rescale::Up(f) => amount.saturating_mul(f),
        Rescale::Down(f) => amount / f,
    }
}

fn mark(flags: &mut [u8], l: &Label, f: u8) {
    for &e in l.edge_list() {
        flags[e as usize] |= f;
    }
}

/// Replays a label's legs into a [`Route`] with per-leg amounts and ETAs.
///
/// Each leg waits for its source chain's finality tier for the request's
/// USD value (the deposit) and then its destination chain's (the
/// release), not for the leg's own value, which is smaller by the fees
/// before it: the relayer plans both ends of every hop at least that deep,
/// so the quote counts every wait execution takes.
pub(crate) fn to_route(
    g: &Graph,
    req: &QuoteRequest,
    usd: Option<switchyard_core::UsdE8>,
    l: &Label,
) -> Route {
    let mut amounts = Vec::with_capacity(l.hops as usize + 1);
    let mut leg_eta_s = Vec::with_capacity(l.hops as usize);
    let mut a = req.amount;
    amounts.push(a);
    for &e in l.edge_list() {
        let edge = &g.edges[e as usize];
        // The search already proved every leg feasible for these amounts.
        a = edge.leg.output(a).unwrap_or_default();
        amounts.push(a);
        leg_eta_s.push(edge.eta_s.saturating_add(g.leg_tier_s(edge, usd)));
    }
    Route {
        bridges: l.edge_list().iter().map(|&e| BridgeIx(e)).collect(),
        amounts,
        leg_eta_s,
        eta_s: l.eta,
        success_p: l.p,
    }
}
