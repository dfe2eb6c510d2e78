//! `switchyard bench intake --url URL`: against a running daemon with a
//! relayer (e.g. `switchyard devnet up --serve`), how many payouts per
//! second `payout_submit` accepts — each request validated and committed to
//! SQLite (fsync) before it answers — and what `route_quote` latency looks
//! like alone and while that intake runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eyre::WrapErr;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde::Serialize;
use switchyard_api::payout::{ItemParams, SubmitParams};
use switchyard_api::quote::QuoteParams;
use switchyard_api::{PayoutApiClient, QuoteApiClient};

use crate::Failure;
use crate::cli::BenchIntakeArgs;

/// The report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Concurrent submitters.
    pub submitters: usize,
    /// Items per request.
    pub items_per_request: usize,
    /// Payouts accepted per second.
    pub payouts_per_s: f64,
    /// Requests accepted per second.
    pub requests_per_s: f64,
    /// p50 / p99 of `payout_submit`, ms.
    pub submit_p50_ms: f64,
    /// p99 of `payout_submit`, ms.
    pub submit_p99_ms: f64,
    /// `route_quote` p50 / p99 with no other load, ms.
    pub quote_idle_p50_ms: f64,
    /// p99 idle.
    pub quote_idle_p99_ms: f64,
    /// `route_quote` p50 / p99 during the intake, ms.
    pub quote_loaded_p50_ms: f64,
    /// p99 loaded.
    pub quote_loaded_p99_ms: f64,
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i.min(v.len() - 1)]
}

async fn quotes(
    c: &HttpClient,
    until: Instant,
    args: &BenchIntakeArgs,
) -> Result<Vec<f64>, Failure> {
    let q = QuoteParams {
        from: args.quote_from.clone(),
        to: args.quote_to.clone(),
        amount: "250".into(),
        mode: Some("pareto".into()),
        ..QuoteParams::default()
    };
    let mut lat = Vec::new();
    while Instant::now() < until {
        let t0 = Instant::now();
        c.route_quote(q.clone()).await.wrap_err("route_quote")?;
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    Ok(lat)
}

/// Entry point.
pub fn run(args: &BenchIntakeArgs) -> Result<(), Failure> {
    if args.submitters == 0 || args.items == 0 || args.items > 5_000 {
        return Err(Failure::Usage(
            "invalid --submitters/--items: at least 1 submitter, 1-5000 items".into(),
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    let r = rt.block_on(measure(args))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| Failure::Runtime(e.into()))?
        );
        return Ok(());
    }
    println!(
        "intake bench: {} submitters x {} items per request for {} s against {}",
        r.submitters, r.items_per_request, args.seconds, args.url
    );
    println!(
        "  accepted and stored     {:>10.0} payouts/s ({:.0} requests/s), submit p50 {:.2} ms, p99 {:.2} ms",
        r.payouts_per_s, r.requests_per_s, r.submit_p50_ms, r.submit_p99_ms
    );
    println!(
        "  route_quote idle        p50 {:.2} ms, p99 {:.2} ms",
        r.quote_idle_p50_ms, r.quote_idle_p99_ms
    );
    println!(
        "  route_quote under load  p50 {:.2} ms, p99 {:.2} ms",
        r.quote_loaded_p50_ms, r.quote_loaded_p99_ms
    );
    Ok(())
}

async fn measure(args: &BenchIntakeArgs) -> Result<Report, Failure> {
    let client = |timeout| {
        HttpClientBuilder::default()
            .request_timeout(timeout)
            .max_request_size(16 << 20)
            .build(&args.url)
            .map_err(|e| Failure::Usage(format!("--url {}: {e}", args.url)))
    };
    let c = client(Duration::from_secs(30))?;
    let idle_until = Instant::now() + Duration::from_secs(2);
    let mut idle = quotes(&c, idle_until, args).await?;

    let run = format!("bench-{}", crate::now_ms());
    let accepted = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.submitters {
        let c = client(Duration::from_secs(30))?;
        let accepted = Arc::clone(&accepted);
        let run = run.clone();
        let n = args.items;
        let chains = args.chains.clone();
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut k = 0u64;
            while Instant::now() < until {
                let items: Vec<ItemParams> = (0..n)
                    .map(|i| ItemParams {
                        to: chains[i % chains.len()].clone(),
                        recipient: format!(
                            "0x{:040x}",
                            ((w as u64) << 40) + (k << 16) + i as u64 + 1
                        ),
                        amount: "0.01".into(),
                        memo: None,
                    })
                    .collect();
                let body = SubmitParams {
                    idempotency_key: format!("{run}-{w}-{k}"),
                    items,
                    source: None,
                    mode: None,
                };
                let s = Instant::now();
                c.payout_submit(body).await.wrap_err("payout_submit")?;
                lat.push(s.elapsed().as_secs_f64() * 1e3);
                accepted.fetch_add(n as u64, Ordering::Relaxed);
                k += 1;
            }
            Ok::<_, Failure>(lat)
        }));
    }
    let mut loaded = quotes(&c, until, args).await?;
    let mut submit = Vec::new();
    for w in workers {
        submit.extend(w.await.map_err(|e| Failure::Runtime(e.into()))??);
    }
    let secs = t0.elapsed().as_secs_f64();
    let payouts = accepted.load(Ordering::Relaxed) as f64;
    Ok(Report {
        submitters: args.submitters,
        items_per_request: args.items,
        payouts_per_s: payouts / secs,
        requests_per_s: submit.len() as f64 / secs,
        submit_p50_ms: pct(&mut submit, 0.5),
        submit_p99_ms: pct(&mut submit, 0.99),
        quote_idle_p50_ms: pct(&mut idle, 0.5),
        quote_idle_p99_ms: pct(&mut idle, 0.99),
        quote_loaded_p50_ms: pct(&mut loaded, 0.5),
        quote_loaded_p99_ms: pct(&mut loaded, 0.99),
    })
}
