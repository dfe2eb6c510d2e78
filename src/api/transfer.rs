//! `transfer_submit` and `transfer_status`: a routed transfer executed by
//! the relayer, idempotent per key.

use jsonrpsee::types::ErrorObjectOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_core::address::Address;
use switchyard_core::topology::{AssetIx, Topology};
use switchyard_core::{U256, UsdE8};
use switchyard_relayer::{HopEnd, HopPlan, TransferView, Transfers};
use switchyard_router::{Graph, Mode, QuoteParams, QuoteRequest, quote};

use super::AppState;
use super::errors;

/// Params of `transfer_submit`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferParams {
    /// Client-chosen key: the same key returns the same transfer.
    pub idempotency_key: String,
    /// Source `chain:ASSET`.
    pub from: String,
    /// Destination `chain:ASSET`.
    pub to: String,
    /// Decimal amount in the source asset's units.
    pub amount: String,
    /// Who receives on the destination chain.
    pub recipient: String,
    /// `cheapest` (default), `fastest`, `safest` or `weighted`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Hop budget.
    #[serde(default)]
    pub max_hops: Option<u64>,
}

/// Params of `transfer_status`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {
    /// Id returned by `transfer_submit`.
    pub transfer_id: String,
}

/// USD value of `raw` base units of `asset`; an overflow counts as the
/// largest value (the strictest finality tier).
fn usd_of(t: &Topology, asset: AssetIx, raw: U256) -> UsdE8 {
    let a = t.asset(asset);
    switchyard_core::Amount::from_raw(raw, a.decimals)
        .usd_value(a.usd_price)
        .unwrap_or(UsdE8(U256::MAX))
}

/// Routes `qp` (one route: not pareto) and turns it into executable hops
/// paying `recipient`; intermediate hops pay the relayer itself.
pub fn plan(
    graph: &Graph,
    transfers: &Transfers,
    qp: &QuoteParams,
    default_max_hops: u8,
    recipient: &str,
) -> Result<Vec<HopPlan>, ErrorObjectOwned> {
    let t = graph.topology();
    let req = QuoteRequest::resolve(graph, qp, default_max_hops, crate::now_ms())
        .map_err(|e| errors::from_core(&e))?;
    if req.mode == Mode::Pareto {
        return Err(errors::invalid_field(
            "mode",
            "a transfer takes one route: cheapest, fastest, safest or weighted",
        ));
    }
    let dst_kind = t.chain(t.asset(req.to).chain).kind;
    let recipient = match Address::parse_recipient(dst_kind, "recipient", recipient)
        .map_err(|e| errors::from_core(&e))?
    {
        Address::Evm(a) => a,
        _ => {
            return Err(errors::invalid_field(
                "recipient",
                "transfers execute on EVM chains only in this build",
            ));
        }
    };
    let q = quote(graph, &req);
    let Some(route) = q.routes.first() else {
        let view = q.view(graph);
        return Err(errors::no_route(
            serde_json::to_value(&view.excluded).unwrap_or(Value::Null),
        ));
    };
    let mut hops = Vec::with_capacity(route.bridges.len());
    for (i, &bix) in route.bridges.iter().enumerate() {
        let b = t.bridge(bix);
        let field = format!("route.bridges[{i}]");
        if !switchyard_bridges::executable(&b.protocol) {
            return Err(errors::not_executable(
                &field,
                &switchyard_bridges::Unsupported {
                    bridge: b.id.to_string(),
                    protocol: b.protocol.clone(),
                }
                .to_string(),
            ));
        }
        let end = |asset: AssetIx, raw: U256| -> Result<HopEnd, ErrorObjectOwned> {
            let a = t.asset(asset);
            let c = t.chain(a.chain);
            let missing = |what: &str| {
                errors::not_executable(
                    &field,
                    &format!("bridge {}: chain {} has no {what}", b.id, c.id),
                )
            };
            let chain_id = c.chain_id.ok_or_else(|| missing("chain_id"))?;
            let Some(Address::Evm(escrow)) = c.escrow else {
                return Err(missing("escrow contract"));
            };
            let Address::Evm(token) = a.address else {
                return Err(missing("EVM token"));
            };
            if transfers.relayer_on(chain_id).is_none() {
                return Err(missing("relayer lane (rpc_url)"));
            }
            Ok(HopEnd {
                chain_id,
                escrow,
                token,
                finality: c.finality_for(usd_of(t, asset, raw)),
            })
        };
        let amount_in = route.amounts.get(i).copied().unwrap_or_default();
        let amount_out = route.amounts.get(i + 1).copied().unwrap_or_default();
        let from = end(b.from, amount_in)?;
        let to = end(b.to, amount_out)?;
        let last = i + 1 == route.bridges.len();
        let hop_recipient = if last {
            recipient
        } else {
            transfers
                .relayer_on(to.chain_id)
                .ok_or_else(|| errors::not_executable(&field, "no relayer lane"))?
        };
        hops.push(HopPlan {
            bridge: b.id.to_string(),
            from,
            to,
            amount_in,
            amount_out,
            recipient: hop_recipient,
        });
    }
    Ok(hops)
}

impl AppState {
    /// `transfer_submit`.
    pub fn transfer_submit(&self, p: TransferParams) -> Result<Value, ErrorObjectOwned> {
        let engine = self.engine.as_ref().ok_or_else(errors::not_executing)?;
        let key = p.idempotency_key.as_str();
        if key.is_empty() || key.len() > 128 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(errors::invalid_field(
                "idempotency_key",
                "1 to 128 printable ASCII characters",
            ));
        }
        if let Some(why) = self.route_paused(&p.from, &p.to) {
            return Err(errors::not_executable("route", &why));
        }
        let cur = self.model.current();
        let qp = QuoteParams {
            from: p.from.clone(),
            to: p.to.clone(),
            amount: p.amount.clone(),
            mode: Some(p.mode.clone().unwrap_or_else(|| "cheapest".into())),
            max_hops: p.max_hops,
            weights: None,
            max_fee: None,
            max_eta_s: None,
            min_success_p: None,
        };
        let hops = plan(
            &cur.graph,
            &engine.transfers,
            &qp,
            self.default_max_hops,
            &p.recipient,
        )?;
        let request = serde_json::to_value(&p).unwrap_or(Value::Null);
        let (view, created) =
            engine
                .transfers
                .submit(key, &request, &hops)
                .map_err(|e| match e {
                    switchyard_relayer::Error::IdempotencyConflict(_) => errors::conflict(
                        "idempotency_key",
                        "this key was used for a different request",
                    ),
                    other => errors::internal(&other.to_string()),
                })?;
        Ok(json!({ "created": created, "transfer": view }))
    }

    /// `transfer_status`.
    pub fn transfer_status(&self, p: StatusParams) -> Result<TransferView, ErrorObjectOwned> {
        let engine = self.engine.as_ref().ok_or_else(errors::not_executing)?;
        engine
            .transfers
            .get(&p.transfer_id)
            .map_err(|e| errors::internal(&e.to_string()))?
            .ok_or_else(|| errors::unknown("transfer_id", &p.transfer_id))
    }
}
