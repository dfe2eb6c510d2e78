//! Plans: a routed transfer's hops from a quote ([`plan`]), and the
//! transfers that top up a payout chain's float when held payouts exceed
//! it ([`Funder`]). Errors are typed ([`PlanError`]); the API maps them to
//! its codes.

use std::sync::Arc;

use alloy::primitives::{Address as EvmAddress, U256};
use switchyard_core::address::Address;
use switchyard_core::topology::{AssetIx, Topology};
use switchyard_core::{Amount, UsdE8};
use switchyard_router::quote::ExclusionView;
use switchyard_router::{Graph, Mode, QuoteParams, QuoteRequest, quote};

use crate::payout::{Payouts, Shortfall};
use crate::states::TransferState;
use crate::transfer::{HopEnd, HopPlan, Transfers, VmEnd, transfer_id};

/// Why a transfer cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A field of the request is invalid or names something unknown.
    #[error(transparent)]
    Input(#[from] switchyard_core::Error),
    /// No route satisfies the request; every bridge left out, and why.
    #[error("no route satisfies the request")]
    NoRoute {
        /// The exclusions of the quote.
        excluded: Vec<ExclusionView>,
    },
    /// The route has a leg this daemon cannot execute.
    #[error("cannot execute {field}: {reason}")]
    NotExecutable {
        /// The leg (`route.bridges[1]`) or field.
        field: String,
        /// Why.
        reason: String,
    },
}

/// USD value of `raw` base units of `asset`; an overflow counts as the
/// largest value (the strictest finality tier).
fn usd_of(t: &Topology, asset: AssetIx, raw: U256) -> UsdE8 {
    let a = t.asset(asset);
    Amount::from_raw(raw, a.decimals)
        .usd_value(a.usd_price)
        .unwrap_or(UsdE8(U256::MAX))
}

/// What an EVM escrow records as the recipient of a deposit bound for a
/// wallet on a vault chain (it takes 20 bytes; the release pays the wallet
/// the hop names): the last 20 bytes of the keccak-256 of its address.
fn evm_tag(wallet: &str) -> EvmAddress {
    EvmAddress::from_slice(&alloy::primitives::keccak256(wallet.as_bytes())[12..])
}

/// Routes `qp` (one route: not pareto) and turns it into executable hops
/// paying `recipient`; intermediate hops pay the relayer itself.
pub fn plan(
    graph: &Graph,
    transfers: &Transfers,
    qp: &QuoteParams,
    default_max_hops: u8,
    recipient: &str,
) -> Result<Vec<HopPlan>, PlanError> {
    let t = graph.topology();
    let req = QuoteRequest::resolve(graph, qp, default_max_hops, switchyard_core::now_ms())?;
    if req.mode == Mode::Pareto {
        return Err(switchyard_core::Error::invalid(
            "mode",
            "a transfer takes one route: cheapest, fastest, safest or weighted",
        )
        .into());
    }
    let dst_kind = t.chain(t.asset(req.to).chain).kind;
    // The wallet paid at the end: an EVM address, or on a vault chain its
    // own form (what the EVM escrow records for it is derived from it).
    let (recipient, vm_recipient) =
        match Address::parse_recipient(dst_kind, "recipient", recipient)? {
            Address::Evm(a) => (a, None),
            other @ Address::Solana(_) => (evm_tag(&other.to_string()), Some(other.to_string())),
            _ => {
                return Err(switchyard_core::Error::invalid(
                    "recipient",
                    "transfers execute on EVM and Solana chains only in this build",
                )
                .into());
            }
        };
    let q = quote(graph, &req);
    let Some(route) = q.routes.first() else {
        return Err(PlanError::NoRoute {
            excluded: q.view(graph).excluded,
        });
    };
    // Every hop waits at least as deep as the whole transfer's value asks:
    // the quote's ETA counts each leg's source tier for the request's
    // value, and a hop's own amount is smaller only by the fees before it.
    let request_usd = usd_of(t, req.from, req.amount);
    let mut hops = Vec::with_capacity(route.bridges.len());
    for (i, &bix) in route.bridges.iter().enumerate() {
        let b = t.bridge(bix);
        let field = format!("route.bridges[{i}]");
        let not_executable = |reason: String| PlanError::NotExecutable {
            field: field.clone(),
            reason,
        };
        if !switchyard_bridges::executable(&b.protocol) {
            return Err(not_executable(
                switchyard_bridges::Unsupported {
                    bridge: b.id.to_string(),
                    protocol: b.protocol.clone(),
                }
                .to_string(),
            ));
        }
        let end = |asset: AssetIx, raw: U256| -> Result<HopEnd, PlanError> {
            let a = t.asset(asset);
            let c = t.chain(a.chain);
            let missing = |what: &str| {
                not_executable(format!("bridge {}: chain {} has no {what}", b.id, c.id))
            };
            if c.kind != switchyard_core::address::ChainKind::Evm {
                let domain = c.bridge_domain();
                let (Some(vault @ Address::Solana(_)), Address::Solana(_)) =
                    (&c.escrow, &a.address)
                else {
                    return Err(missing("bridge vault (contracts.escrow)"));
                };
                if transfers.vault_on(domain).is_none() {
                    return Err(missing(
                        "bridge vault lane (rpc_url and the vault's signers)",
                    ));
                }
                return Ok(HopEnd {
                    chain_id: domain,
                    escrow: EvmAddress::ZERO,
                    token: EvmAddress::ZERO,
                    finality: c.finality_for(usd_of(t, asset, raw).max(request_usd)),
                    vm: Some(VmEnd {
                        chain: c.id.to_string(),
                        vault: vault.to_string(),
                        token: a.address.to_string(),
                    }),
                });
            }
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
                finality: c.finality_for(usd_of(t, asset, raw).max(request_usd)),
                vm: None,
            })
        };
        let amount_in = route.amounts.get(i).copied().unwrap_or_default();
        let amount_out = route.amounts.get(i + 1).copied().unwrap_or_default();
        let from = end(b.from, amount_in)?;
        let to = end(b.to, amount_out)?;
        let last = i + 1 == route.bridges.len();
        let (hop_recipient, hop_vm_recipient) = if last {
            (recipient, vm_recipient.clone())
        } else if to.vm.is_some() {
            // An intermediate vault chain pays the relayer's wallet there.
            let me = transfers
                .vault_on(to.chain_id)
                .map(|v| v.lane.sender().to_owned())
                .ok_or_else(|| not_executable("no relayer lane".into()))?;
            (evm_tag(&me), Some(me))
        } else {
            let me = transfers
                .funds_on(to.chain_id)
                .ok_or_else(|| not_executable("no relayer lane".into()))?;
            (me, None)
        };
        hops.push(HopPlan {
            bridge: b.id.to_string(),
            from,
            to,
            amount_in,
            amount_out,
            recipient: hop_recipient,
            vm_recipient: hop_vm_recipient,
        });
    }
    Ok(hops)
}

/// Why a float could not be topped up now (it is tried again next step).
#[derive(Debug, thiserror::Error)]
pub enum FundError {
    /// Planning failed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::Error),
    /// No route delivers the shortfall within a few raises of the amount.
    #[error("no route delivers {want} to {asset}")]
    Short {
        /// Base units wanted.
        want: U256,
        /// `chain:ASSET`.
        asset: String,
    },
}

/// Tops up the floats of chains whose held payouts exceed them: one
/// transfer per (chain, token) at a time, routed from the payouts' funding
/// source with their mode, paid to the chain's PayoutBatcher.
#[derive(Clone)]
pub struct Funder {
    /// Executes the top-ups.
    pub transfers: Arc<Transfers>,
    /// Whose floats.
    pub payouts: Arc<Payouts>,
    /// Hop budget of the top-ups' routes.
    pub default_max_hops: u8,
}

impl Funder {
    /// Closes finished funding transfers, then starts one for each
    /// shortfall that has none open, routed over `graph`.
    pub fn fund(&self, graph: &Graph, short: &[Shortfall]) {
        if let Ok(open) = self.payouts.pending_funding() {
            for id in open {
                let state = match self.transfers.get(&id) {
                    Ok(Some(t)) => TransferState::parse(&t.state),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(transfer = %id, error = %e, "reading a funding transfer");
                        None
                    }
                };
                let Some(state @ (TransferState::Done | TransferState::Failed)) = state else {
                    continue;
                };
                match self.payouts.finish_funding(&id, state) {
                    Ok(()) => {
                        tracing::info!(transfer = %id, %state, "funding transfer finished");
                    }
                    Err(e) => {
                        tracing::warn!(transfer = %id, error = %e, "closing a funding transfer; retried next step");
                    }
                }
            }
        }
        for s in short {
            if let Err(e) = self.fund_one(graph, s) {
                tracing::warn!(chain_id = s.chain_id, error = %e, "cannot fund the payout float");
            }
        }
    }

    fn fund_one(&self, graph: &Graph, s: &Shortfall) -> Result<(), FundError> {
        let chain = i64::try_from(s.chain_id).unwrap_or(i64::MAX);
        if self.payouts.open_funding(chain, &s.token)?.is_some() {
            return Ok(());
        }
        let t = graph.topology();
        let src = t
            .resolve_asset("source", &s.source)
            .map_err(PlanError::from)?;
        let dst = t.resolve_asset("to", &s.asset).map_err(PlanError::from)?;
        if t.asset(src).chain == t.asset(dst).chain {
            return Ok(());
        }
        let (sd, dd) = (t.asset(src).decimals, t.asset(dst).decimals);
        // 10% over the shortfall, converted to source units (stablecoins
        // at par), then raised until the route delivers at least that.
        let want = s.amount.saturating_add(s.amount / U256::from(10u8));
        let scale = |v: U256| {
            let up = U256::from(10u8).pow(U256::from(sd));
            let down = U256::from(10u8).pow(U256::from(dd));
            v.saturating_mul(up).div_ceil(down)
        };
        let mut amount_in = scale(want);
        let n = self.payouts.funding_count(s.chain_id, &s.token)?;
        let key = format!("fund:{}:{}:{n}", s.chain_id, s.token);
        let recipient = s.recipient.clone();
        for _ in 0..5 {
            let qp = QuoteParams {
                from: s.source.clone(),
                to: s.asset.clone(),
                amount: Amount::from_raw(amount_in, sd).to_string(),
                mode: Some(s.mode.clone()),
                ..QuoteParams::default()
            };
            let hops = plan(
                graph,
                &self.transfers,
                &qp,
                self.default_max_hops,
                &recipient,
            )?;
            let out = hops.last().map(|h| h.amount_out).unwrap_or_default();
            if out < want {
                amount_in = amount_in
                    .saturating_add(scale(want - out))
                    .saturating_add(U256::from(1u8));
                continue;
            }
            let request = serde_json::json!({
                "funding": s.asset, "from": s.source, "amount": qp.amount, "recipient": recipient, "mode": s.mode,
            });
            let id = match self.transfers.submit(&key, &request, &hops) {
                Ok((v, _)) => v.id,
                // Submitted before a crash with other figures: that one.
                Err(crate::Error::IdempotencyConflict(_)) => transfer_id(&key),
                Err(e) => return Err(e.into()),
            };
            self.payouts
                .record_funding(&id, s.chain_id, &s.token, out)?;
            tracing::info!(transfer = %id, chain_id = s.chain_id, amount = %out, "funding the payout float");
            return Ok(());
        }
        Err(FundError::Short {
            want,
            asset: s.asset.clone(),
        })
    }
}
