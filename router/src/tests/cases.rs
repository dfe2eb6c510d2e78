use switchyard_core::U256;
use switchyard_core::model::BreakerState;

use super::{B, Net, params, request};
use crate::{Graph, Mode, Reason, quote};

/// a:USDT --fast/expensive--> b:USDT, a:USDT --slow/cheap--> b:USDT,
/// and a two-leg detour through c with the best amount but lowest safety.
fn diamond() -> Net {
    Net::default()
        .chain("a")
        .chain("b")
        .chain("c")
        .asset("a", "USDT", 6)
        .asset("b", "USDT", 18)
        .asset("c", "USDC", 6)
        .bridge(B {
            id: "fast",
            from: "a:USDT",
            to: "b:USDT",
            bps: 30,
            eta: 60,
            p: 0.999,
            ..B::default()
        })
        .bridge(B {
            id: "cheap",
            from: "a:USDT",
            to: "b:USDT",
            bps: 5,
            eta: 900,
            p: 0.999,
            ..B::default()
        })
        .bridge(B {
            id: "ac",
            from: "a:USDT",
            to: "c:USDC",
            bps: 1,
            eta: 300,
            p: 0.99,
            ..B::default()
        })
        .bridge(B {
            id: "cb",
            from: "c:USDC",
            to: "b:USDT",
            bps: 1,
            eta: 300,
            p: 0.99,
            ..B::default()
        })
}

fn names(g: &Graph, q: &crate::Quote) -> Vec<Vec<String>> {
    q.routes
        .iter()
        .map(|r| {
            r.bridges
                .iter()
                .map(|b| g.topology().bridge(*b).id.to_string())
                .collect()
        })
        .collect()
}

#[test]
fn pareto_returns_every_tradeoff_best_amount_first() {
    let g = diamond().graph();
    let q = quote(
        &g,
        &request(&g, &params("a:USDT", "b:USDT", "1000", "pareto")),
    );
    assert_eq!(
        names(&g, &q),
        vec![vec!["ac", "cb"], vec!["cheap"], vec!["fast"]]
    );
    // 1000 * 0.9999 * 0.9999 in 18 decimals, exactly.
    assert_eq!(
        q.routes[0].amount_out(),
        U256::from(999_800_010_000_000_000_000u128)
    );
    assert_eq!(q.routes[0].eta_s, 600);
}

#[test]
fn single_objective_modes_pick_their_best() {
    let g = diamond().graph();
    let pick = |mode: &str| {
        let q = quote(&g, &request(&g, &params("a:USDT", "b:USDT", "1000", mode)));
        names(&g, &q)
    };
    assert_eq!(pick("cheapest"), vec![vec!["ac", "cb"]]);
    assert_eq!(pick("fastest"), vec![vec!["fast"]]);
    // cheap and fast tie on safety (0.999); cheap receives more.
    assert_eq!(pick("safest"), vec![vec!["cheap"]]);
}

#[test]
fn weighted_mode_trades_fee_against_time_and_respects_limits() {
    let g = diamond().graph();
    let mut p = params("a:USDT", "b:USDT", "1000", "weighted");
    // Time is worth nothing, risk counts: cheap (fee 0.5, loss 1) beats
    // the detour (fee 0.2, loss ~19.9).
    let q = quote(&g, &request(&g, &p));
    assert_eq!(names(&g, &q), vec![vec!["cheap"]]);
    // An hour is worth $100: fast (fee 3 + loss 1 + 1.67) wins over
    // cheap (0.5 + 1 + 25).
    p.weights = Some(crate::Weights {
        fee: 1.0,
        time: 100.0,
        risk: 1.0,
    });
    let q = quote(&g, &request(&g, &p));
    assert_eq!(names(&g, &q), vec![vec!["fast"]]);
    // A fee cap of 1 USDT rules fast out again.
    p.max_fee = Some("1".into());
    let q = quote(&g, &request(&g, &p));
    assert_eq!(names(&g, &q), vec![vec!["cheap"]]);
    let fast = q
        .excluded
        .iter()
        .find(|x| g.topology().bridge(x.bridge).id.as_str() == "fast")
        .unwrap();
    assert_eq!(fast.reason, Reason::OverLimits);
    // Impossible limits: no route, and every bridge says why.
    p.max_eta_s = Some(1);
    let q = quote(&g, &request(&g, &p));
    assert!(q.routes.is_empty());
    assert_eq!(q.excluded.len(), 4);
}

fn reason_of(g: &Graph, q: &crate::Quote, id: &str) -> Reason {
    q.excluded
        .iter()
        .find(|x| g.topology().bridge(x.bridge).id.as_str() == id)
        .map(|x| x.reason)
        .unwrap_or_else(|| panic!("{id} not excluded: {:?}", q.excluded))
}

#[test]
fn every_unused_bridge_near_the_request_says_why() {
    let net = Net::default()
        .chain("a")
        .chain("b")
        .chain("c")
        .chain("d")
        .asset("a", "USDT", 6)
        .asset("a", "USDC", 6)
        .asset("b", "USDT", 6)
        .asset("c", "USDT", 6)
        .asset("d", "USDT", 6)
        .bridge(B {
            id: "direct",
            from: "a:USDT",
            to: "b:USDT",
            ..B::default()
        })
        .bridge(B {
            id: "small",
            from: "a:USDT",
            to: "b:USDT",
            max_usd: "10",
            ..B::default()
        })
        .bridge(B {
            id: "shallow",
            from: "a:USDT",
            to: "b:USDT",
            liq: "10",
            ..B::default()
        })
        .bridge(B {
            id: "min",
            from: "a:USDT",
            to: "b:USDT",
            min: "5000",
            ..B::default()
        })
        .bridge(B {
            id: "fee",
            from: "a:USDT",
            to: "b:USDT",
            fixed: "2000",
            ..B::default()
        })
        .bridge(B {
            id: "slow",
            from: "a:USDT",
            to: "b:USDT",
            eta: 6000,
            ..B::default()
        })
        .bridge(B {
            id: "paused",
            from: "a:USDT",
            to: "b:USDT",
            ..B::default()
        })
        .bridge(B {
            id: "tripped",
            from: "a:USDT",
            to: "b:USDT",
            ..B::default()
        })
        .bridge(B {
            id: "swap",
            from: "a:USDT",
            to: "a:USDC",
            ..B::default()
        })
        .bridge(B {
            id: "back",
            from: "a:USDC",
            to: "a:USDT",
            ..B::default()
        })
        .bridge(B {
            id: "to-c",
            from: "a:USDT",
            to: "c:USDT",
            ..B::default()
        })
        .bridge(B {
            id: "c-d",
            from: "c:USDT",
            to: "d:USDT",
            ..B::default()
        })
        .bridge(B {
            id: "d-b",
            from: "d:USDT",
            to: "b:USDT",
            ..B::default()
        });
    let mut snap = net.snapshot();
    let ix = |id: &str| snap.topology.bridge_ix(&id.parse().unwrap()).unwrap().ix();
    let (p, t) = (ix("paused"), ix("tripped"));
    snap.bridges[p].paused = Some("upgrade".into());
    snap.bridges[t].breaker = BreakerState::Open {
        reason: "3 failures".into(),
    };
    let g = Graph::compile(std::sync::Arc::new(snap));
    let mut par = params("a:USDT", "b:USDT", "1000", "pareto");
    par.max_hops = Some(2);
    let q = quote(&g, &request(&g, &par));
    assert_eq!(names(&g, &q), vec![vec!["direct"]]);
    assert_eq!(reason_of(&g, &q, "small"), Reason::OverMax);
    assert_eq!(reason_of(&g, &q, "shallow"), Reason::OverLiquidity);
    assert_eq!(reason_of(&g, &q, "min"), Reason::BelowMin);
    assert_eq!(reason_of(&g, &q, "fee"), Reason::FeeExceedsAmount);
    assert_eq!(reason_of(&g, &q, "slow"), Reason::Dominated);
    assert_eq!(reason_of(&g, &q, "paused"), Reason::Paused);
    assert_eq!(reason_of(&g, &q, "tripped"), Reason::BreakerOpen);
    // Onward from a:USDC only leads back through the source: 3 legs at
    // least, and not a simple route at all (see budget 3 below).
    assert_eq!(reason_of(&g, &q, "swap"), Reason::HopBudget);
    assert_eq!(reason_of(&g, &q, "back"), Reason::NoRoute);
    assert_eq!(reason_of(&g, &q, "to-c"), Reason::HopBudget);
    assert_eq!(reason_of(&g, &q, "d-b"), Reason::HopBudget);
    // c-d touches neither the source nor the destination chain.
    assert!(
        q.excluded
            .iter()
            .all(|x| g.topology().bridge(x.bridge).id.as_str() != "c-d")
    );

    // With a budget of 3 the detour is a real, dominated alternative.
    par.max_hops = Some(3);
    let q = quote(&g, &request(&g, &par));
    assert_eq!(reason_of(&g, &q, "to-c"), Reason::Dominated);
    assert_eq!(reason_of(&g, &q, "swap"), Reason::Dominated);
    par.mode = Some("fastest".into());
    let q = quote(&g, &request(&g, &par));
    assert_eq!(reason_of(&g, &q, "slow"), Reason::Outranked);
}

#[test]
fn a_stale_reading_takes_the_bridge_out() {
    let net = diamond();
    let mut snap = net.snapshot();
    snap.stale_after_ms = 10_000;
    snap.bridges[0].reading = Some(switchyard_core::model::BridgeReading {
        observed_at_ms: 0,
        ..Default::default()
    });
    let g = Graph::compile(std::sync::Arc::new(snap));
    let p = params("a:USDT", "b:USDT", "1000", "fastest");
    let fresh = quote(&g, &crate::QuoteRequest::resolve(&g, &p, 4, 5_000).unwrap());
    assert_eq!(names(&g, &fresh), vec![vec!["fast"]]);
    let stale = quote(
        &g,
        &crate::QuoteRequest::resolve(&g, &p, 4, 50_000).unwrap(),
    );
    assert_eq!(names(&g, &stale), vec![vec!["ac", "cb"]]);
    assert_eq!(reason_of(&g, &stale, "fast"), Reason::StaleReading);
}

#[test]
fn amounts_travel_through_mixed_decimals_exactly() {
    let g = diamond().graph();
    let q = quote(
        &g,
        &request(&g, &params("a:USDT", "b:USDT", "0.000001", "cheapest")),
    );
    // 1 base unit via cheap: 1 * 9995 * 10^12 / 10^4 = 999_500_000_000 in 18
    // decimals. The detour would do better in real numbers, but its first
    // leg (6 -> 6 decimals, 1 bps) floors 1 unit to 0, which then cannot
    // cover the next leg.
    assert_eq!(names(&g, &q), vec![vec!["cheap"]]);
    let v = q.view(&g);
    assert_eq!(v.routes[0].amount_out, "0.0000009995");
    assert_eq!(reason_of(&g, &q, "cb"), Reason::Outranked);
}

#[test]
fn bad_requests_name_their_field() {
    let g = diamond().graph();
    let field = |p: crate::QuoteParams| {
        crate::QuoteRequest::resolve(&g, &p, 4, 0)
            .unwrap_err()
            .field()
            .map(str::to_owned)
    };
    assert_eq!(
        field(params("x:USDT", "b:USDT", "1", "pareto")).as_deref(),
        Some("from.chain")
    );
    assert_eq!(
        field(params("a:DAI", "b:USDT", "1", "pareto")).as_deref(),
        Some("from.asset")
    );
    assert_eq!(
        field(params("a:USDT", "a:USDT", "1", "pareto")).as_deref(),
        Some("to")
    );
    assert_eq!(
        field(params("a:USDT", "b:USDT", "0", "pareto")).as_deref(),
        Some("amount")
    );
    assert_eq!(
        field(params("a:USDT", "b:USDT", "-1", "pareto")).as_deref(),
        Some("amount")
    );
    assert_eq!(
        field(params("a:USDT", "b:USDT", "1.0000001", "pareto")).as_deref(),
        Some("amount")
    );
    assert_eq!(
        field(params("a:USDT", "b:USDT", "1", "best")).as_deref(),
        Some("mode")
    );
    let mut p = params("a:USDT", "b:USDT", "1", "pareto");
    p.max_hops = Some(9);
    assert_eq!(field(p.clone()).as_deref(), Some("max_hops"));
    p.max_hops = Some(0);
    assert_eq!(field(p.clone()).as_deref(), Some("max_hops"));
    p.max_hops = None;
    p.max_eta_s = Some(5);
    assert_eq!(field(p).as_deref(), Some("max_eta_s"));
    let mut p = params("a:USDT", "b:USDT", "1", "weighted");
    p.weights = Some(crate::Weights {
        fee: -1.0,
        time: 0.0,
        risk: 0.0,
    });
    assert_eq!(field(p).as_deref(), Some("weights.fee"));
    assert_eq!(Mode::parse("m", "pareto").unwrap(), Mode::Pareto);
}
