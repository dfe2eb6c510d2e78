//! `switchyard topology`: what a topology file holds, as a newcomer needs
//! it to type a quote (chains, `CHAIN:ASSET` names, bridges).

use serde_json::json;
use switchyard_core::Amount;
use switchyard_core::topology::Topology;

use crate::Failure;
use crate::cli::TopologyArgs;
use crate::quote_cmd::fmt_percent;
use crate::table::Table;

pub(crate) fn run(args: &TopologyArgs) -> Result<(), Failure> {
    let t = Topology::load(&args.topology)?;
    if args.json {
        crate::emit(&format!("{}\n", to_json(&t)))
    } else {
        crate::emit(&render(&t))
    }
}

fn to_json(t: &Topology) -> serde_json::Value {
    let chains: Vec<_> = t
        .chains()
        .iter()
        .map(|c| {
            json!({
                "id": c.id.as_str(),
                "kind": c.kind.as_str(),
                "chain_id": c.chain_id,
                "finality": c.finality.to_string(),
                "block_time_ms": c.block_time_ms,
                "rpc_endpoints": c.rpc_urls.len(),
                "executes": c.escrow.is_some() || c.payout_batcher.is_some(),
            })
        })
        .collect();
    let assets: Vec<_> = t
        .assets()
        .iter()
        .map(|a| {
            json!({
                "asset": a.key.to_string(),
                "decimals": a.decimals,
                "address": a.address.to_string(),
                "usd_price": a.usd_price.to_string(),
            })
        })
        .collect();
    let bridges: Vec<_> = t
        .bridges()
        .iter()
        .map(|b| {
            let from = t.asset(b.from);
            json!({
                "id": b.id.as_str(),
                "protocol": b.protocol,
                "from": from.key.to_string(),
                "to": t.asset(b.to).key.to_string(),
                "fee_fixed": Amount::from_raw(b.fee_fixed, from.decimals).to_string(),
                "fee_bps": b.fee_bps,
                "eta_s": b.eta_s,
                "success_p": b.success_p,
                "min": Amount::from_raw(b.min, from.decimals).to_string(),
                "max_usd": b.max_usd.to_string(),
                "liquidity_usd": b.liquidity_usd.to_string(),
            })
        })
        .collect();
    json!({ "chains": chains, "assets": assets, "bridges": bridges })
}

fn render(t: &Topology) -> String {
    let mut out = String::new();
    let mut chains = Table::new(&[
        "CHAIN",
        "KIND",
        "CHAIN ID",
        "FINALITY",
        "BLOCK TIME",
        "EXECUTES",
    ]);
    chains.right(&[2]);
    for c in t.chains() {
        chains.row(vec![
            c.id.to_string(),
            c.kind.to_string(),
            c.chain_id.map(|i| i.to_string()).unwrap_or_default(),
            c.finality.to_string(),
            if c.block_time_ms % 1000 == 0 {
                format!("{} s", c.block_time_ms / 1000)
            } else {
                format!("{} ms", c.block_time_ms)
            },
            if c.escrow.is_some() || c.payout_batcher.is_some() {
                "yes".into()
            } else if c.kind == switchyard_core::address::ChainKind::Solana
                && !c.rpc_urls.is_empty()
            {
                // Paid through the generic lane from the hot wallet.
                "payouts".into()
            } else {
                "quote only".into()
            },
        ]);
    }
    out.push_str(&format!("Chains ({})\n", t.chains().len()));
    out.push_str(&chains.render());

    let mut assets = Table::new(&["ASSET", "DECIMALS", "USD", "ADDRESS"]);
    assets.right(&[1, 2]);
    for a in t.assets() {
        assets.row(vec![
            a.key.to_string(),
            a.decimals.to_string(),
            a.usd_price.to_string(),
            a.address.to_string(),
        ]);
    }
    out.push_str(&format!(
        "\nAssets ({}): give them to quote as --from/--to CHAIN:ASSET\n",
        t.assets().len()
    ));
    out.push_str(&assets.render());

    let mut bridges = Table::new(&[
        "BRIDGE", "PROTOCOL", "FROM", "TO", "FEE", "BPS", "ETA", "SUCCESS",
    ]);
    bridges.right(&[4, 5, 6, 7]);
    for b in t.bridges() {
        let from = t.asset(b.from);
        bridges.row(vec![
            b.id.to_string(),
            b.protocol.clone(),
            from.key.to_string(),
            t.asset(b.to).key.to_string(),
            Amount::from_raw(b.fee_fixed, from.decimals).to_string(),
            b.fee_bps.to_string(),
            format!("{}s", b.eta_s),
            fmt_percent(b.success_p),
        ]);
    }
    out.push_str(&format!(
        "\nBridges ({}): FEE is fixed, in FROM units, plus BPS of the amount\n",
        t.bridges().len()
    ));
    out.push_str(&bridges.render());
    out
}
