//! `switchyard bench router`: route search on generated graphs.
//!
//! The graph has `chains x assets` nodes; every node gets a few same-chain
//! swaps and many cross-chain bridges with random fees, ETAs, minimums and
//! caps, built through the real topology parser. Each mode answers the
//! same random query mix on one thread; latency is per `quote()` call
//! (search, route rebuild and explanations). The baseline answers the
//! fastest-route question with `pathfinding::dijkstra` on ETA alone (no
//! amounts, no caps, no hop budget), which is a lower bound on the work.

use std::sync::Arc;
use std::time::Instant;

use pathfinding::directed::dijkstra::dijkstra;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use switchyard_core::Address;
use switchyard_core::address::ChainKind;
use switchyard_core::finality::Finality;
use switchyard_core::model::NetworkSnapshot;
use switchyard_core::topology::{AssetSpec, BridgeSpec, ChainSpec, Topology, TopologySpec};
use switchyard_router::{Graph, Mode, QuoteParams, QuoteRequest, Weights, quote};

use crate::Failure;
use crate::cli::{BenchRouterArgs, GraphSize};

/// Results of one mode.
#[derive(Debug, Serialize)]
pub struct ModeResult {
    /// Mode or baseline name.
    pub mode: String,
    /// Queries per second on one thread.
    pub qps: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// Mean routes returned.
    pub mean_routes: f64,
    /// Most routes returned.
    pub max_routes: usize,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Graph size name.
    pub graph: String,
    /// Nodes (assets).
    pub nodes: usize,
    /// Edges (bridges).
    pub edges: usize,
    /// Hop budget.
    pub max_hops: u64,
    /// Queries per mode.
    pub queries: usize,
    /// Per-mode results.
    pub modes: Vec<ModeResult>,
}

fn dims(size: GraphSize) -> (usize, usize, usize, usize) {
    // chains, assets per chain, same-chain swaps per node, cross-chain bridges per node
    match size {
        GraphSize::Small => (10, 4, 2, 8),
        GraphSize::Medium => (50, 10, 3, 17),
        GraphSize::Large => (100, 20, 3, 17),
    }
}

/// Generates a topology of the given size.
pub fn generate(size: GraphSize, seed: u64) -> Result<Topology, Failure> {
    let (chains, per_chain, swaps, cross) = dims(size);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut spec = TopologySpec::default();
    for c in 0..chains {
        spec.chain.push(ChainSpec {
            id: format!("c{c}"),
            kind: ChainKind::Evm,
            chain_id: Some(c as u64 + 1),
            finality: Finality::Blocks { blocks: 12 },
            block_time_ms: 2000,
            native_usd_price: 1.0,
            rpc_url: None,
            rpc_urls: Vec::new(),
            confirmations: Vec::new(),
            contracts: Default::default(),
        });
        for a in 0..per_chain {
            let n = (c * per_chain + a + 1) as u64;
            let addr = Address::parse(ChainKind::Evm, "address", &format!("0x{n:040x}"))?;
            spec.asset.push(AssetSpec {
                chain: format!("c{c}"),
                symbol: format!("T{a}"),
                decimals: if rng.random_bool(0.3) { 18 } else { 6 },
                address: addr.to_string(),
                usd_price: 1.0,
            });
        }
    }
    let name = |c: usize, a: usize| format!("c{c}:T{a}");
    let mut k = 0usize;
    for c in 0..chains {
        for a in 0..per_chain {
            let mut targets = Vec::new();
            for _ in 0..swaps.min(per_chain - 1) {
                let mut b = rng.random_range(0..per_chain);
                if b == a {
                    b = (b + 1) % per_chain;
                }
                targets.push((c, b));
            }
            for _ in 0..cross {
                let mut d = rng.random_range(0..chains);
                if d == c {
                    d = (d + 1) % chains;
                }
                targets.push((d, rng.random_range(0..per_chain)));
            }
            for (d, b) in targets {
                k += 1;
                let same = d == c;
                spec.bridge.push(BridgeSpec {
                    id: format!("b{k}"),
                    protocol: if same { "amm".into() } else { "bridge".into() },
                    from: name(c, a),
                    to: name(d, b),
                    fee_fixed: format!("{}", rng.random_range(0..300) as f64 / 100.0),
                    fee_bps: rng.random_range(0..40),
                    eta_s: if same {
                        rng.random_range(5..60)
                    } else {
                        rng.random_range(30..1800)
                    },
                    success_p: 1.0 - rng.random_range(1..300) as f64 / 10_000.0,
                    min: format!("{}", rng.random_range(0..20)),
                    max_usd: format!("{}", rng.random_range(100_000..100_000_000)),
                    liquidity_usd: format!("{}", rng.random_range(100_000..100_000_000)),
                });
            }
        }
    }
    Ok(Topology::from_spec(&spec)?)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summarize(mode: &str, mut lat_us: Vec<f64>, routes: &[usize], total_s: f64) -> ModeResult {
    lat_us.sort_by(f64::total_cmp);
    ModeResult {
        mode: mode.to_owned(),
        qps: lat_us.len() as f64 / total_s.max(1e-9),
        p50_us: percentile(&lat_us, 0.5),
        p99_us: percentile(&lat_us, 0.99),
        mean_routes: routes.iter().sum::<usize>() as f64 / routes.len().max(1) as f64,
        max_routes: routes.iter().copied().max().unwrap_or(0),
    }
}

/// Runs the benchmark and returns its report.
pub fn measure(args: &BenchRouterArgs) -> Result<Report, Failure> {
    let topology = generate(args.graph, args.seed)?;
    let graph = Graph::compile(Arc::new(NetworkSnapshot::offline(Arc::new(topology))));
    let t = graph.topology();
    let n = t.assets().len();
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let pairs: Vec<(usize, usize, u64)> = (0..args.queries)
        .map(|_| {
            let a = rng.random_range(0..n);
            let mut b = rng.random_range(0..n);
            if a == b {
                b = (b + 1) % n;
            }
            (a, b, rng.random_range(10..50_000))
        })
        .collect();
    let mut modes = Vec::new();
    for mode in Mode::ALL {
        let reqs: Vec<QuoteRequest> = pairs
            .iter()
            .map(|&(a, b, amount)| {
                let p = QuoteParams {
                    from: t.assets()[a].key.to_string(),
                    to: t.assets()[b].key.to_string(),
                    amount: amount.to_string(),
                    mode: Some(mode.as_str().to_owned()),
                    max_hops: Some(args.max_hops),
                    weights: (mode == Mode::Weighted).then_some(Weights {
                        fee: 1.0,
                        time: 5.0,
                        risk: 1.0,
                    }),
                    ..Default::default()
                };
                QuoteRequest::resolve(&graph, &p, 4, 0)
            })
            .collect::<Result<_, _>>()?;
        let mut lat = Vec::with_capacity(reqs.len());
        let mut routes = Vec::with_capacity(reqs.len());
        let start = Instant::now();
        for r in &reqs {
            let t0 = Instant::now();
            let q = quote(&graph, r);
            lat.push(t0.elapsed().as_secs_f64() * 1e6);
            routes.push(q.routes.len());
        }
        modes.push(summarize(
            mode.as_str(),
            lat,
            &routes,
            start.elapsed().as_secs_f64(),
        ));
    }
    modes.push(dijkstra_baseline(&graph, &pairs));
    Ok(Report {
        graph: format!("{:?}", args.graph).to_lowercase(),
        nodes: n,
        edges: t.bridges().len(),
        max_hops: args.max_hops,
        queries: args.queries,
        modes,
    })
}

fn dijkstra_baseline(graph: &Graph, pairs: &[(usize, usize, u64)]) -> ModeResult {
    let t = graph.topology();
    let mut adj: Vec<Vec<(u32, u64)>> = vec![Vec::new(); t.assets().len()];
    for (i, b) in t.bridges().iter().enumerate() {
        let e = graph.edge(switchyard_core::topology::BridgeIx(i as u32));
        adj[b.from.ix()].push((b.to.0, e.eta_s));
    }
    let mut lat = Vec::with_capacity(pairs.len());
    let mut routes = Vec::with_capacity(pairs.len());
    let start = Instant::now();
    for &(a, b, _) in pairs {
        let t0 = Instant::now();
        let r = dijkstra(
            &(a as u32),
            |n| adj[*n as usize].iter().copied(),
            |n| *n == b as u32,
        );
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
        routes.push(usize::from(r.is_some()));
    }
    summarize(
        "dijkstra-fastest (baseline)",
        lat,
        &routes,
        start.elapsed().as_secs_f64(),
    )
}

/// Entry point of `switchyard bench router`.
pub fn run(args: &BenchRouterArgs) -> Result<(), Failure> {
    if args.queries == 0 {
        return Err(Failure::Usage(
            "invalid --queries: must be at least 1".into(),
        ));
    }
    let report = measure(args)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Runtime(e.into()))?
        );
        return Ok(());
    }
    println!(
        "router bench: graph {} ({} nodes, {} edges), max_hops {}, {} queries per mode, one thread",
        report.graph, report.nodes, report.edges, report.max_hops, report.queries
    );
    println!(
        "{:<30} {:>12} {:>10} {:>10} {:>12} {:>11}",
        "mode", "quotes/s", "p50 us", "p99 us", "mean routes", "max routes"
    );
    for m in &report.modes {
        println!(
            "{:<30} {:>12.0} {:>10.1} {:>10.1} {:>12.2} {:>11}",
            m.mode, m.qps, m.p50_us, m.p99_us, m.mean_routes, m.max_routes
        );
    }
    Ok(())
}
