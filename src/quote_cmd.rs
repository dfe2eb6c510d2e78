//! `switchyard quote`: an offline quote against a topology file.

use std::collections::BTreeMap;
use std::sync::Arc;

use switchyard_core::Amount;
use switchyard_core::model::NetworkSnapshot;
use switchyard_core::topology::Topology;
use switchyard_router::{Graph, QuoteParams, QuoteRequest, QuoteView, Weights, quote};

use crate::Failure;
use crate::cli::{ModeArg, QuoteArgs};
use crate::table::Table;

pub(crate) fn run(args: &QuoteArgs) -> Result<(), Failure> {
    let topology = Topology::load(&args.topology)?;
    let graph = Graph::compile(Arc::new(NetworkSnapshot::offline(Arc::new(topology))));
    let params = params_of(args);
    let req = QuoteRequest::resolve(&graph, &params, 4, crate::now_ms()).map_err(|e| {
        // The request has one `weights` object; the command line has three
        // flags: name the one given.
        let weight_flag = [
            ("--weight-fee", args.weight_fee),
            ("--weight-time", args.weight_time),
            ("--weight-risk", args.weight_risk),
        ]
        .into_iter()
        .find_map(|(flag, v)| v.map(|_| flag))
        .unwrap_or("--weight-fee");
        Failure::Input {
            field: e.field().map(str::to_owned),
            message: flag_names(&e.to_string()).replacen("--weight-*", weight_flag, 1),
        }
    })?;
    let view = quote(&graph, &req).view(&graph);
    if args.json {
        let text = serde_json::to_string(&view).map_err(|e| Failure::Runtime(e.into()))?;
        crate::emit(&format!("{text}\n"))?;
    } else {
        crate::emit(&render_table(
            graph.topology(),
            &params,
            &view,
            args.explain,
        ))?;
    }
    if view.routes.is_empty() {
        return Err(Failure::NoRoute);
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
        ("max_eta_s", "--max-eta-s"),
        ("min_success_p", "--min-success-p"),
        ("from.chain", "--from chain"),
        ("from.asset", "--from asset"),
        ("to.chain", "--to chain"),
        ("to.asset", "--to asset"),
        ("from", "--from"),
        ("to", "--to"),
        ("amount", "--amount"),
        ("mode", "--mode"),
    ]
    .iter()
    .find_map(|(field, flag)| {
        ["invalid", "unknown"].iter().find_map(|verb| {
            msg.strip_prefix(&format!("{verb} {field}:"))
                .map(|rest| format!("{verb} {flag}:{rest}"))
        })
    })
    .unwrap_or_else(|| msg.to_owned())
}

fn fmt_eta(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A success probability as a percentage with two decimals, rounded down
/// (so 0.99999 reads 99.99%, never 100.00%).
pub(crate) fn fmt_percent(p: f64) -> String {
    let hundredths = (p * 10_000.0 + 1e-9).floor().clamp(0.0, 10_000.0);
    format!("{:.2}%", hundredths / 100.0)
}

/// `decimal` (a view's human amount) with all of its asset's decimals, or
/// as given if the asset is unknown.
fn fixed(t: &Topology, asset: &str, decimal: &str) -> String {
    decimals_of(t, asset)
        .and_then(|d| Amount::parse_decimal("amount", decimal, d).ok())
        .map_or_else(|| decimal.to_owned(), |a| a.fixed())
}

fn decimals_of(t: &Topology, asset: &str) -> Option<u8> {
    t.assets()
        .iter()
        .find(|a| a.key.to_string() == asset)
        .map(|a| a.decimals)
}

/// The fee of a route: amount in minus amount out, in the larger of the two
/// assets' decimals (exact), and the USD value lost at the topology's
/// prices. `None` if an asset is unknown or a figure does not parse.
fn route_fee(
    t: &Topology,
    from: &str,
    amount_in: &str,
    to: &str,
    amount_out: &str,
) -> Option<(String, String)> {
    let asset = |k: &str| t.assets().iter().find(|a| a.key.to_string() == k);
    let (a_in, a_out) = (asset(from)?, asset(to)?);
    let x = Amount::parse_decimal("in", amount_in, a_in.decimals).ok()?;
    let y = Amount::parse_decimal("out", amount_out, a_out.decimals).ok()?;
    let d = a_in.decimals.max(a_out.decimals);
    let (xs, ys) = (x.rescale_floor(d)?, y.rescale_floor(d)?);
    let signed = |a: Amount, b: Amount, decimals: u8| match a.raw.checked_sub(b.raw) {
        Some(v) => Amount::from_raw(v, decimals).fixed(),
        None => format!("-{}", Amount::from_raw(b.raw - a.raw, decimals).fixed()),
    };
    let fee = signed(xs, ys, d);
    let (ux, uy) = (x.usd_value(a_in.usd_price)?, y.usd_value(a_out.usd_price)?);
    let usd = match ux.0.checked_sub(uy.0) {
        Some(v) => format!("${}", cents(v)),
        None => format!("-${}", cents(uy.0 - ux.0)),
    };
    Some((fee, usd))
}

/// USD in fixed point e8 as dollars and cents, rounded to the nearest cent.
fn cents(e8: switchyard_core::U256) -> String {
    let c =
        (e8 + switchyard_core::U256::from(500_000u64)) / switchyard_core::U256::from(1_000_000u64);
    Amount::from_raw(c, 2).fixed()
}

/// A table a person can read: one line per route (what arrives, the fee,
/// ETA, success), each route's legs, and the excluded bridges counted by
/// reason (every one with its reason when `explain`, or when no route is
/// left: then they are the answer).
pub(crate) fn render_table(t: &Topology, p: &QuoteParams, v: &QuoteView, explain: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mode = p.mode.as_deref().unwrap_or("pareto");
    let from_sym = p.from.split(':').nth(1).unwrap_or("");
    if v.routes.is_empty() {
        let _ = writeln!(
            out,
            "No route for {} {} -> {} (mode {mode}): every bridge is excluded, see why below.",
            p.amount, p.from, p.to
        );
    } else {
        let _ = writeln!(
            out,
            "{} {} -> {}, mode {mode}: {} route{}\n",
            p.amount,
            p.from,
            p.to,
            v.routes.len(),
            if v.routes.len() == 1 { "" } else { "s" }
        );
        let mut tbl = Table::new(&[
            "#",
            &format!("RECEIVE {}", p.to),
            &format!("FEE {from_sym}"),
            "FEE USD",
            "ETA",
            "SUCCESS",
            "LEGS",
        ]);
        tbl.right(&[1, 2, 3, 4, 5, 6]);
        for (i, r) in v.routes.iter().enumerate() {
            let first_in = r.legs.first().map(|l| l.amount_in.as_str()).unwrap_or("");
            let (fee, usd) = route_fee(t, &p.from, first_in, &p.to, &r.amount_out)
                .unwrap_or_else(|| ("?".into(), "?".into()));
            tbl.row(vec![
                (i + 1).to_string(),
                fixed(t, &p.to, &r.amount_out),
                fee,
                usd,
                fmt_eta(r.eta_s),
                fmt_percent(r.success_p),
                r.legs.len().to_string(),
            ]);
        }
        out.push_str(&tbl.render());
        out.push('\n');
        let mut legs = Table::new(&[
            "#",
            "BRIDGE",
            "FROM",
            "AMOUNT IN",
            "TO",
            "AMOUNT OUT",
            "ETA",
            "SUCCESS",
        ]);
        legs.right(&[3, 5, 6, 7]);
        for (i, r) in v.routes.iter().enumerate() {
            for (j, l) in r.legs.iter().enumerate() {
                legs.row(vec![
                    if j == 0 {
                        (i + 1).to_string()
                    } else {
                        String::new()
                    },
                    l.bridge.clone(),
                    l.from.clone(),
                    fixed(t, &l.from, &l.amount_in),
                    l.to.clone(),
                    fixed(t, &l.to, &l.amount_out),
                    fmt_eta(l.eta_s),
                    fmt_percent(l.success_p),
                ]);
            }
        }
        out.push_str(&legs.render());
        // Why a leg's ETA or probability is what it is (finality tiers,
        // observations), one line each.
        let mut notes = Table::new(&["#", "BRIDGE", "NOTE"]);
        let mut any = false;
        for (i, r) in v.routes.iter().enumerate() {
            for l in &r.legs {
                for n in &l.notes {
                    any = true;
                    notes.row(vec![(i + 1).to_string(), l.bridge.clone(), n.clone()]);
                }
            }
        }
        if any {
            out.push('\n');
            out.push_str(&notes.render());
        }
    }
    if v.excluded.is_empty() {
        return out;
    }
    let reason_of = |x: &switchyard_router::quote::ExclusionView| {
        serde_json::to_value(x.reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for x in &v.excluded {
        *counts.entry(reason_of(x)).or_default() += 1;
    }
    let mut by_count: Vec<(String, usize)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let summary: Vec<String> = by_count.iter().map(|(r, n)| format!("{r} {n}")).collect();
    let n = v.excluded.len();
    let _ = write!(
        out,
        "\nExcluded {n} bridge{}: {}",
        if n == 1 { "" } else { "s" },
        summary.join(", ")
    );
    if explain || v.routes.is_empty() {
        out.push('\n');
        let mut tbl = Table::new(&["BRIDGE", "REASON", "DETAIL"]);
        for x in &v.excluded {
            tbl.row(vec![x.bridge.clone(), reason_of(x), x.detail.clone()]);
        }
        out.push_str(&tbl.render());
    } else {
        out.push_str(" (--explain lists each)\n");
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
            flag_names("unknown from.chain: x; did you mean y?"),
            "unknown --from chain: x; did you mean y?"
        );
        assert_eq!(
            flag_names("invalid max_eta_s: weights and limits"),
            "invalid --max-eta-s: weights and limits"
        );
        assert_eq!(flag_names("invalid amount: bad"), "invalid --amount: bad");
        assert_eq!(flag_names("something else"), "something else");
    }

    #[test]
    fn eta_reads_like_a_duration() {
        assert_eq!(fmt_eta(59), "59s");
        assert_eq!(fmt_eta(61), "1m 01s");
        assert_eq!(fmt_eta(7300), "2h 01m");
    }

    #[test]
    fn a_probability_never_reads_higher_than_it_is() {
        assert_eq!(fmt_percent(0.998), "99.80%");
        assert_eq!(fmt_percent(0.99999), "99.99%");
        assert_eq!(fmt_percent(1.0), "100.00%");
        assert_eq!(fmt_percent(0.0), "0.00%");
    }

    #[test]
    fn cents_round_to_the_nearest_cent() {
        use switchyard_core::U256;
        assert_eq!(cents(U256::from(161_971_100u64)), "1.62");
        assert_eq!(cents(U256::from(499_999u64)), "0.00");
        assert_eq!(cents(U256::from(500_000u64)), "0.01");
    }
}
