//! `switchyard quote`: an offline quote against a topology file.

use std::sync::Arc;

use switchyard_core::model::NetworkSnapshot;
use switchyard_core::topology::Topology;
use switchyard_router::{Graph, QuoteParams, QuoteRequest, QuoteView, Weights, quote};

use crate::Failure;
use crate::cli::{ModeArg, QuoteArgs};

pub(crate) fn run(args: &QuoteArgs) -> Result<(), Failure> {
    let topology = Topology::load(&args.topology)?;
    let graph = Graph::compile(Arc::new(NetworkSnapshot::offline(Arc::new(topology))));
    let params = params_of(args);
    let req = QuoteRequest::resolve(&graph, &params, 4, crate::now_ms())
        .map_err(|e| Failure::Usage(flag_names(&e.to_string())))?;
    let view = quote(&graph, &req).view(&graph);
    if args.json {
        let text = serde_json::to_string(&view).map_err(|e| Failure::Runtime(e.into()))?;
        println!("{text}");
    } else {
        print!("{}", render_table(&view));
    }
    Ok(())
}

fn params_of(a: &QuoteArgs) -> QuoteParams {
    let weighted = a.weight_fee.is_some() || a.weight_time.is_some() || a.weight_risk.is_some();
    let d = Weights::default();
    QuoteParams {
        from: a.from.clone(),
        to: a.to.clone(),
        amount: a.amount.clone(),
        mode: Some(
            match a.mode {
                ModeArg::Pareto => "pareto",
                ModeArg::Cheapest => "cheapest",
                ModeArg::Fastest => "fastest",
                ModeArg::Safest => "safest",
                ModeArg::Weighted => "weighted",
            }
            .into(),
        ),
        max_hops: Some(a.max_hops),
        weights: weighted.then(|| Weights {
            fee: a.weight_fee.unwrap_or(d.fee),
            time: a.weight_time.unwrap_or(d.time),
            risk: a.weight_risk.unwrap_or(d.risk),
        }),
        max_fee: a.max_fee.clone(),
        max_eta_s: a.max_eta_s,
        min_success_p: a.min_success_p,
    }
}

/// Error messages name request fields; on the command line say the flag.
fn flag_names(msg: &str) -> String {
    [
        ("weights.fee", "--weight-fee"),
        ("weights.time", "--weight-time"),
        ("weights.risk", "--weight-risk"),
        ("weights", "--weight-*"),
        ("max_hops", "--max-hops"),
        ("max_fee", "--max-fee"),
        ("min_success_p", "--min-success-p"),
        ("from chain", "--from chain"),
        ("from asset", "--from asset"),
        ("to chain", "--to chain"),
        ("to asset", "--to asset"),
    ]
    .iter()
    .fold(msg.to_string(), |m, (field, flag)| {
        if m.starts_with(&format!("invalid {field}:"))
            || m.starts_with(&format!("unknown {field}:"))
        {
            m.replacen(field, flag, 1)
        } else {
            m
        }
    })
}

fn fmt_eta(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A table a person can read.
pub(crate) fn render_table(v: &QuoteView) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if v.routes.is_empty() {
        out.push_str("No route. Excluded bridges below say why.\n");
    }
    for (i, r) in v.routes.iter().enumerate() {
        let to = r.legs.last().map(|l| l.to.as_str()).unwrap_or("");
        let _ = writeln!(
            out,
            "Route {}: receive {} {}  eta {}  success {:.3}%  ({} leg{})",
            i + 1,
            r.amount_out,
            to,
            fmt_eta(r.eta_s),
            r.success_p * 100.0,
            r.legs.len(),
            if r.legs.len() == 1 { "" } else { "s" }
        );
        for l in &r.legs {
            let _ = writeln!(
                out,
                "    {:<36} {:>14} {:<15} -> {:>14} {:<15} {:>8}  p={:.4}",
                l.bridge,
                l.amount_in,
                l.from,
                l.amount_out,
                l.to,
                fmt_eta(l.eta_s),
                l.success_p
            );
        }
    }
    if !v.excluded.is_empty() {
        let _ = writeln!(out, "Excluded ({}):", v.excluded.len());
        for x in &v.excluded {
            let reason = serde_json::to_value(x.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(out, "    {:<36} {:<18} {}", x.bridge, reason, x.detail);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_become_flag_names() {
        assert_eq!(
            flag_names("invalid max_hops: must be"),
            "invalid --max-hops: must be"
        );
        assert_eq!(
            flag_names("unknown from chain: x"),
            "unknown --from chain: x"
        );
        assert_eq!(flag_names("invalid amount: bad"), "invalid amount: bad");
    }

    #[test]
    fn eta_reads_like_a_duration() {
        assert_eq!(fmt_eta(59), "59s");
        assert_eq!(fmt_eta(61), "1m 01s");
        assert_eq!(fmt_eta(7300), "2h 01m");
    }
}
