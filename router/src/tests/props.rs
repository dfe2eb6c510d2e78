//! Property tests: on random small graphs, the search returns exactly the
//! brute-force answer for every mode.

use proptest::prelude::*;
use switchyard_core::U256;

use super::brute;
use super::{B, Net};
use crate::quote::{Mode, QuoteParams, QuoteRequest, Reason};
use crate::{Weights, quote};

#[derive(Clone, Debug)]
struct RandEdge {
    from: usize,
    to: usize,
    fixed: u32,
    bps: u32,
    eta: u64,
    p: f64,
    min: u32,
    max_usd: u32,
}

#[derive(Clone, Debug)]
struct Case {
    decimals: Vec<u8>,
    edges: Vec<RandEdge>,
    amount: u32,
    max_hops: u64,
    from: usize,
    to: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (2usize..=8).prop_flat_map(|n| {
        let edge = (
            0..n,
            0..n,
            0u32..3,
            prop_oneof![Just(0u32), 1u32..60, Just(30)],
            0u64..4,
            prop_oneof![Just(1.0f64), Just(0.99), Just(0.9), Just(0.5)],
            prop_oneof![Just(0u32), 1u32..400],
            prop_oneof![Just(1_000_000u32), 1u32..500],
        )
            .prop_map(|(from, to, fixed, bps, eta, p, min, max_usd)| RandEdge {
                from,
                to,
                fixed,
                bps,
                eta,
                p,
                min,
                max_usd,
            });
        (
            proptest::collection::vec(prop_oneof![Just(0u8), Just(2u8), Just(6u8), Just(18u8)], n),
            proptest::collection::vec(edge, 0..(n * 5)),
            1u32..2_000,
            1u64..=6,
            0..n,
            1..n,
        )
            .prop_map(
                move |(decimals, edges, amount, max_hops, from, offset)| Case {
                    decimals,
                    edges,
                    amount,
                    max_hops,
                    from,
                    to: (from + offset) % n,
                },
            )
    })
}

fn build(c: &Case) -> Net {
    let mut net = Net::default();
    let chains = ["c0", "c1", "c2"];
    for ch in chains {
        net = net.chain(ch);
    }
    // Requests from $1,000 wait longer on c1: +3 blocks of 1 s.
    net = net.tier("c1", "1000", 4);
    // And on c2 from $500, +2.
    net = net.tier("c2", "500", 3);
    let names: Vec<String> = (0..c.decimals.len())
        .map(|i| format!("{}:T{i}", chains[i % 3]))
        .collect();
    for (i, d) in c.decimals.iter().enumerate() {
        net = net.asset(chains[i % 3], &format!("T{i}"), *d);
    }
    for (k, e) in c.edges.iter().enumerate() {
        if e.from == e.to {
            continue;
        }
        // Fees and minimums are whole units, valid for any decimals.
        let (fixed, min, max_usd, id) = (
            e.fixed.to_string(),
            e.min.to_string(),
            e.max_usd.to_string(),
            format!("e{k}"),
        );
        net = net.bridge(B {
            id: &id,
            from: &names[e.from],
            to: &names[e.to],
            fixed: &fixed,
            bps: e.bps,
            eta: e.eta,
            p: e.p,
            min: &min,
            max_usd: &max_usd,
            ..B::default()
        });
    }
    net
}

proptest! {
    // PROPTEST_CASES overrides the default of 400 for longer soak runs.
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400), ..ProptestConfig::default() })]

    #[test]
    fn search_matches_brute_force_in_every_mode(c in case(), w in (0.0f64..3.0, 0.0f64..50.0, 0.0f64..3.0), cap in prop::option::of(0u32..50)) {
        check(&c, w, cap)?;
    }
}

/// The search against brute force, for one case in every mode; and every
/// returned route and every exclusion checked for soundness.
fn check(c: &Case, w: (f64, f64, f64), cap: Option<u32>) -> Result<(), TestCaseError> {
    let net = build(c);
    let g = net.graph();
    let t = g.topology();
    for mode in Mode::ALL {
        let mut p = QuoteParams {
            from: t.assets()[c.from].key.to_string(),
            to: t.assets()[c.to].key.to_string(),
            amount: c.amount.to_string(),
            mode: Some(mode.as_str().into()),
            max_hops: Some(c.max_hops),
            ..Default::default()
        };
        if mode == Mode::Weighted {
            p.weights = Some(Weights {
                fee: w.0,
                time: w.1,
                risk: w.2,
            });
            p.max_fee = cap.map(|x| x.to_string());
        }
        let req = QuoteRequest::resolve(&g, &p, 4, 0).unwrap();
        let q = quote(&g, &req);
        let all = brute::all_routes(&g, &req);
        let got: Vec<(U256, u64, f64)> = q
            .routes
            .iter()
            .map(|r| (r.amount_out(), r.eta_s, r.success_p))
            .collect();
        match mode {
            Mode::Pareto => prop_assert_eq!(&got, &brute::pareto(&all), "mode {:?}", mode),
            _ => prop_assert_eq!(
                got.first().copied(),
                brute::best(&g, &req, &all),
                "mode {:?}",
                mode
            ),
        }
        // Every returned route is real: replaying its legs gives its numbers.
        for r in &q.routes {
            prop_assert!(r.bridges.len() <= c.max_hops as usize);
            let mut a = req.amount;
            let (mut eta, mut pr) = (0u64, 1.0f64);
            for (i, b) in r.bridges.iter().enumerate() {
                let e = g.edge(*b);
                prop_assert_eq!(a, r.amounts[i]);
                a = e.leg.output(a).unwrap();
                let usd = g.usd_value(req.from, req.amount).unwrap();
                // Deposit at the source's tier, release at the destination's.
                let tier = g.leg_tier_s(e, Some(usd));
                prop_assert_eq!(r.leg_eta_s[i], e.eta_s + tier);
                eta += e.eta_s + tier;
                pr *= e.success_p;
            }
            prop_assert_eq!((a, eta, pr), (r.amount_out(), r.eta_s, r.success_p));
        }
        // Explanations are sound: shape and amount reasons mean no route
        // through the bridge exists; used bridges are never excluded.
        for x in &q.excluded {
            prop_assert!(q.routes.iter().all(|r| !r.bridges.contains(&x.bridge)));
            if matches!(
                x.reason,
                Reason::HopBudget
                    | Reason::NoRoute
                    | Reason::BelowMin
                    | Reason::FeeExceedsAmount
                    | Reason::OverMax
                    | Reason::NoFeasiblePath
            ) {
                prop_assert!(
                    all.iter().all(|f| !f.edges.contains(&x.bridge.0)),
                    "{:?} has a route",
                    x
                );
            }
        }
    }
    Ok(())
}

/// Found by the property test: a label that would cross a bridge is pruned
/// (a returned route beats it) before it gets there, and a weaker label
/// that does get there cannot pay the bridge's fixed fee. The bridge is on
/// a feasible route, so "fee exceeds amount" would be false: it is beaten.
#[test]
fn a_bridge_reached_only_by_a_pruned_label_is_not_blamed_on_its_fee() {
    let e = |from, to, fixed, bps, eta| RandEdge {
        from,
        to,
        fixed,
        bps,
        eta,
        p: 1.0,
        min: 0,
        max_usd: 1_000_000,
    };
    let c = Case {
        decimals: vec![0; 6],
        edges: vec![
            e(3, 0, 0, 1, 1),
            e(3, 0, 1, 1, 0),
            e(0, 2, 2, 0, 0),
            e(3, 2, 0, 0, 1),
        ],
        amount: 4,
        max_hops: 2,
        from: 3,
        to: 2,
    };
    if let Err(e) = check(&c, (0.0, 0.0, 0.0), None) {
        panic!("{e}");
    }
}

proptest! {
    /// With free legs (no fees, no minimums, equal decimals) every path is
    /// feasible, so the fastest route within a budget larger than any
    /// simple path is the plain shortest path by ETA.
    #[test]
    fn fastest_matches_dijkstra_when_every_leg_is_free(
        n in 2usize..=7,
        raw in proptest::collection::vec((0usize..7, 0usize..7, 0u64..1000), 0..30),
        from in 0usize..7,
        offset in 1usize..7,
    ) {
        let from = from % n;
        let to = (from + 1 + offset % (n - 1)) % n;
        let mut net = Net::default().chain("c0");
        for i in 0..n {
            net = net.asset("c0", &format!("T{i}"), 6);
        }
        let mut adj: Vec<Vec<(usize, u64)>> = vec![Vec::new(); n];
        for (k, (a, b, eta)) in raw.iter().enumerate() {
            let (a, b) = (a % n, b % n);
            if a == b {
                continue;
            }
            let (id, fa, fb) = (format!("e{k}"), format!("c0:T{a}"), format!("c0:T{b}"));
            net = net.bridge(B { id: &id, from: &fa, to: &fb, eta: *eta, ..B::default() });
            adj[a].push((b, *eta));
        }
        let g = net.graph();
        let p = QuoteParams {
            from: format!("c0:T{from}"),
            to: format!("c0:T{to}"),
            amount: "100".into(),
            mode: Some("fastest".into()),
            max_hops: Some(8),
            ..Default::default()
        };
        let q = quote(&g, &QuoteRequest::resolve(&g, &p, 4, 0).unwrap());
        let oracle = pathfinding::directed::dijkstra::dijkstra(&from, |v| adj[*v].clone(), |v| *v == to);
        prop_assert_eq!(q.routes.first().map(|r| r.eta_s), oracle.map(|(_, eta)| eta));
    }
}
