//! Amount tiers and observed health in quotes.

use std::sync::Arc;

use switchyard_core::health::{Basis, HealthPolicy, Observed};

use super::{B, Net, params, request};
use crate::{Graph, quote};

fn tiered() -> Net {
    Net::default()
        .chain("a")
        .chain("b")
        .tier("a", "10000", 4)
        .tier("a", "1000000", 10)
        .tier("b", "20000", 3)
        .asset("a", "USDT", 6)
        .asset("b", "USDT", 6)
        .bridge(B {
            id: "ab",
            from: "a:USDT",
            to: "b:USDT",
            eta: 60,
            ..B::default()
        })
        .bridge(B {
            id: "ba",
            from: "b:USDT",
            to: "a:USDT",
            eta: 60,
            ..B::default()
        })
}

#[test]
fn a_large_amount_waits_for_its_finality_tier_and_the_quote_says_why() {
    let g = tiered().graph();
    let eta = |amount: &str| {
        let q = quote(
            &g,
            &request(&g, &params("a:USDT", "b:USDT", amount, "fastest")),
        );
        let v = q.view(&g);
        (v.routes[0].eta_s, v.routes[0].legs[0].clone())
    };
    let (small, leg) = eta("50");
    assert_eq!(small, 60);
    assert_eq!(leg.finality_wait_s, 0);
    assert!(leg.notes.is_empty(), "{:?}", leg.notes);
    // $10,000 and up: 4 blocks instead of 1 on a, at 1 s a block, before
    // the release; from $20,000 also 3 instead of 1 on b after it.
    let (large, leg) = eta("10000");
    assert_eq!(large, 63);
    assert_eq!((leg.eta_s, leg.finality_wait_s), (63, 3));
    assert_eq!(
        leg.notes,
        vec![
            "finality: 4 blocks for amounts from $10,000 on a (deposit: +3 blocks x 1000 ms = 3 s over its base 1 block)"
                .to_owned()
        ]
    );
    let (larger, leg) = eta("50000");
    assert_eq!(larger, 65);
    assert_eq!((leg.eta_s, leg.finality_wait_s), (65, 5));
    assert_eq!(
        leg.notes[1],
        "finality: 3 blocks for amounts from $20,000 on b (release: +2 blocks x 1000 ms = 2 s over its base 1 block)"
    );
    let (huge, _) = eta("2000000");
    assert_eq!(huge, 71, "the top tier on a: 10 blocks; and b's");
    // The other way, the deposit is on b and the release on a.
    let q = quote(
        &g,
        &request(&g, &params("b:USDT", "a:USDT", "50000", "fastest")),
    );
    assert_eq!(q.routes[0].eta_s, 65);
    let q = quote(
        &g,
        &request(&g, &params("b:USDT", "a:USDT", "15000", "fastest")),
    );
    assert_eq!(q.routes[0].eta_s, 63, "below b's tier, above a's");
}

#[test]
fn tier_waits_follow_depths_tags_and_what_readings_measure() {
    use switchyard_core::Finality;
    use switchyard_core::finality::BlockTag;
    use switchyard_core::model::ChainReading;
    use switchyard_core::topology::ChainIx;
    let finalized = Finality::Tag {
        tag: BlockTag::Finalized,
    };
    let net = Net::default()
        .chain("e")
        .chain("d")
        .finality("e", finalized)
        .tier("e", "10000", 128)
        .finality("d", Finality::Blocks { blocks: 12 })
        .tier_rule("d", "10000", finalized);
    let mut snap = net.snapshot();
    // e's finalized block trails its head by 64 blocks; d's reading is a
    // depth (head - 12), which says nothing of its finalized tag.
    for (i, lag) in [(0, 64), (1, 12)] {
        snap.chains[i].reading = Some(ChainReading {
            head: 1_000,
            finalized: Some(1_000 - lag),
            ..ChainReading::default()
        });
    }
    let g = Graph::compile(Arc::new(snap));
    let usd = switchyard_core::UsdE8::parse("usd", "20000").unwrap();
    // 128 confirmations wait 127 blocks past inclusion; the tag 64.
    let e = g.tier_wait(ChainIx(0), usd).unwrap();
    assert_eq!(
        (e.extra_blocks, e.extra_s, e.tag_lag_unknown),
        (63, 63, false)
    );
    // A tag over a depth base: not measured, so flagged, not taken as 0.
    let d = g.tier_wait(ChainIx(1), usd).unwrap();
    assert!(d.tag_lag_unknown, "{d:?}");
}

/// a -> b directly (fast, safe by its priors), or through c.
fn two_ways() -> Net {
    Net::default()
        .chain("a")
        .chain("b")
        .chain("c")
        .asset("a", "USDT", 6)
        .asset("b", "USDT", 6)
        .asset("c", "USDT", 6)
        .bridge(B {
            id: "direct",
            from: "a:USDT",
            to: "b:USDT",
            bps: 10,
            eta: 20,
            p: 0.999,
            ..B::default()
        })
        .bridge(B {
            id: "ac",
            from: "a:USDT",
            to: "c:USDT",
            bps: 10,
            eta: 15,
            p: 0.999,
            ..B::default()
        })
        .bridge(B {
            id: "cb",
            from: "c:USDT",
            to: "b:USDT",
            bps: 10,
            eta: 15,
            p: 0.999,
            ..B::default()
        })
}

fn picks(g: &Graph) -> Vec<Vec<String>> {
    ["cheapest", "fastest", "safest"]
        .iter()
        .map(|m| {
            let q = quote(g, &request(g, &params("a:USDT", "b:USDT", "100", m)));
            q.view(g).routes[0]
                .legs
                .iter()
                .map(|l| l.bridge.clone())
                .collect()
        })
        .collect()
}

#[test]
fn a_limping_bridge_loses_the_fastest_and_safest_picks_and_wins_them_back() {
    let net = two_ways();
    let direct = vec!["direct".to_owned()];
    let detour = vec!["ac".to_owned(), "cb".to_owned()];
    let healthy = net.graph();
    assert_eq!(
        picks(&healthy),
        vec![direct.clone(), direct.clone(), direct.clone()]
    );

    // Four slow releases (about 200 s each) and two failures.
    let mut snap = net.snapshot();
    snap.health = HealthPolicy {
        prior_weight: 20.0,
        min_latency_samples: 3,
        window_ms: 600_000,
    };
    let observed = Observed::from_outcomes([
        (true, Some(190_000)),
        (true, Some(200_000)),
        (true, Some(210_000)),
        (true, Some(205_000)),
        (false, None),
        (false, None),
    ]);
    snap.bridges[0].observed = Some(observed);
    let limping = Graph::compile(Arc::new(snap.clone()));
    // Cheapest ranks by fee, which observations do not change (one leg of
    // 10 bps beats two); time and risk move off the bridge.
    assert_eq!(
        picks(&limping),
        vec![direct.clone(), detour.clone(), detour.clone()]
    );
    let q = quote(
        &limping,
        &request(&limping, &params("a:USDT", "b:USDT", "100", "pareto")),
    );
    let v = q.view(&limping);
    let leg = v
        .routes
        .iter()
        .flat_map(|r| &r.legs)
        .find(|l| l.bridge == "direct")
        .unwrap();
    assert_eq!(leg.eta_s, 200);
    assert_eq!(leg.health.prior_eta_s, 20);
    assert_eq!(leg.health.prior_success_p, 0.999);
    assert_eq!(leg.health.observed, Some(observed));
    assert_eq!(
        (leg.health.eta_basis, leg.health.success_basis),
        (Basis::Observed, Basis::Observed)
    );
    assert_eq!(leg.health.window_s, 600);
    let expected = (20.0 * 0.999 + 4.0) / 26.0;
    assert!((leg.success_p - expected).abs() < 1e-6, "{}", leg.success_p);
    assert!(
        leg.notes[0].starts_with("observed: 4 of 6 hops released in the last 600 s; latency median 200 s, p95 210 s over 4 samples"),
        "{:?}",
        leg.notes
    );
    // Weighted by risk: the expected loss of the limping bridge outweighs
    // its lower fee.
    let mut w = params("a:USDT", "b:USDT", "100", "weighted");
    w.weights = Some(crate::Weights {
        fee: 1.0,
        time: 0.0,
        risk: 1.0,
    });
    let q = quote(&limping, &request(&limping, &w));
    assert_eq!(q.view(&limping).routes[0].legs.len(), 2);

    // The window forgets: the priors again, and the picks come back.
    snap.bridges[0].observed = None;
    let recovered = Graph::compile(Arc::new(snap));
    assert_eq!(
        picks(&recovered),
        vec![direct.clone(), direct.clone(), direct]
    );
}
