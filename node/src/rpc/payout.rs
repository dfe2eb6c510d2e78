//! Merchant payouts: `payout_submit`, `payout_status`, `payout_list`,
//! `payout_cancel`, `payout_deliveries`.

use jsonrpsee::types::ErrorObjectOwned;
use switchyard_api::Caller;
use switchyard_api::payout::{
    Cancelled, Deliveries, IdParams, ListParams, MAX_ITEMS, MAX_MEMO, PayoutPage, SubmitParams,
};
use switchyard_core::address::Address;
use switchyard_core::{Amount, U256, UsdE8};
use switchyard_relayer::{NewPayout, PayoutState, PayoutView, Role, Submitted};

use super::AppState;
use super::errors;

fn internal(e: &switchyard_relayer::Error) -> ErrorObjectOwned {
    errors::internal(&e.to_string())
}

impl AppState {
    fn payouts(&self) -> Result<&switchyard_relayer::Payouts, ErrorObjectOwned> {
        self.engine().map(|e| e.payouts.as_ref())
    }

    /// `payout_submit`: validates every item, then stores the request in
    /// one SQLite transaction before answering.
    pub fn payout_submit(
        &self,
        caller: &Caller,
        p: SubmitParams,
    ) -> Result<Submitted, ErrorObjectOwned> {
        let payouts = self.payouts()?;
        let engine = self.engine()?;
        let key = p.idempotency_key.as_str();
        super::check_idempotency_key(key)?;
        if p.items.is_empty() || p.items.len() > MAX_ITEMS {
            return Err(errors::invalid_field(
                "items",
                &format!("between 1 and {MAX_ITEMS} items"),
            ));
        }
        let cur = self.model.current();
        let t = &cur.snapshot.topology;
        let mode = p.mode.clone().unwrap_or_else(|| "cheapest".into());
        if !["cheapest", "fastest", "safest"].contains(&mode.as_str()) {
            return Err(errors::invalid_field("mode", "cheapest, fastest or safest"));
        }
        let source = match p.source.clone().or_else(|| engine.treasury.clone()) {
            None => None,
            Some(s) => {
                let field = if p.source.is_some() {
                    "source"
                } else {
                    "relayer.treasury"
                };
                let ix = t
                    .resolve_asset(field, &s)
                    .map_err(|e| errors::from_core(&e))?;
                let chain = t.chain(t.asset(ix).chain);
                if chain
                    .chain_id
                    .and_then(|id| engine.transfers.relayer_on(id))
                    .is_none()
                {
                    return Err(errors::not_executable(
                        field,
                        &format!("chain {} has no relayer lane", chain.id),
                    ));
                }
                Some(t.asset(ix).key.to_string())
            }
        };
        let mut items = Vec::with_capacity(p.items.len());
        // Recipients a generic-lane chain must look at, by chain: (field,
        // recipient).
        let mut to_check: std::collections::BTreeMap<&str, Vec<(String, String)>> =
            Default::default();
        for (i, it) in p.items.iter().enumerate() {
            let f = |name: &str| format!("items[{i}].{name}");
            let asset_ix = t
                .resolve_asset(&f("to"), &it.to)
                .map_err(|e| errors::from_core(&e))?;
            let asset = t.asset(asset_ix);
            let chain = t.chain(asset.chain);
            let recipient = Address::parse_recipient(chain.kind, &f("recipient"), &it.recipient)
                .map_err(|e| errors::from_core(&e))?;
            engine.check_denied(
                &caller.name,
                &f("recipient"),
                chain.id.as_str(),
                &recipient.to_string(),
            )?;
            let amount = Amount::parse_decimal(&f("amount"), &it.amount, asset.decimals)
                .map_err(|e| errors::from_core(&e))?;
            if amount.raw.is_zero() {
                return Err(errors::invalid_field(
                    &f("amount"),
                    "must be greater than 0",
                ));
            }
            if it.memo.as_ref().is_some_and(|m| m.len() > MAX_MEMO) {
                return Err(errors::invalid_field(
                    &f("memo"),
                    &format!("at most {MAX_MEMO} bytes"),
                ));
            }
            let (chain_id, token, recipient) = match (recipient, asset.address, chain.chain_id) {
                (Address::Evm(recipient), Address::Evm(token), Some(chain_id)) => {
                    if !engine.payout_chains.contains(&chain_id) {
                        return Err(errors::not_executable(
                            &f("to"),
                            &format!("chain {} has no relayer lane or PayoutBatcher", chain.id),
                        ));
                    }
                    (
                        chain_id,
                        token.to_checksum(None),
                        recipient.to_checksum(None),
                    )
                }
                (recipient, token, _) => {
                    let Some(vc) = payouts.vm_chains().get(chain.id.as_str()) else {
                        return Err(errors::not_executable(
                            &f("to"),
                            &format!(
                                "chain {} ({}) has no payout lane in this daemon{}",
                                chain.id,
                                chain.kind,
                                if chain.kind == switchyard_core::address::ChainKind::Solana {
                                    " (is SWITCHYARD_SOLANA_KEY set and the chain's rpc_url listed?)"
                                } else {
                                    ""
                                }
                            ),
                        ));
                    };
                    let token = token.to_string();
                    if token != vc.token {
                        return Err(errors::not_executable(
                            &f("to"),
                            &format!("chain {} pays {} only", chain.id, vc.token),
                        ));
                    }
                    // A Solana transfer moves a u64 of base units.
                    if amount.raw > U256::from(u64::MAX) {
                        return Err(errors::invalid_field(
                            &f("amount"),
                            &format!("more than chain {} can move in one transfer", chain.id),
                        ));
                    }
                    let recipient = recipient.to_string();
                    to_check
                        .entry(chain.id.as_str())
                        .or_default()
                        .push((f("recipient"), recipient.clone()));
                    (0, token, recipient)
                }
            };
            let usd = amount
                .usd_value(asset.usd_price)
                .unwrap_or(UsdE8(U256::MAX));
            items.push(NewPayout {
                asset: asset.key.to_string(),
                chain: chain.id.to_string(),
                chain_id,
                token,
                recipient,
                amount: amount.raw,
                finality: chain.finality_for(usd),
                memo: it.memo.clone(),
                source: source.clone(),
                mode: mode.clone(),
                usd,
                approvals: match engine.approvals {
                    Some((_, dual)) if usd >= dual => 2,
                    Some((single, _)) if usd >= single => 1,
                    _ => 0,
                },
            });
        }
        // A request already stored is answered from the store: its
        // recipients were checked when it came first (a chain's answer may
        // have changed since, or the chain may not answer now).
        if !to_check.is_empty()
            && !payouts
                .request_exists(&caller.name, key)
                .map_err(|e| internal(&e))?
        {
            for (chain, list) in &to_check {
                let Some(vc) = payouts.vm_chains().get(*chain) else {
                    continue;
                };
                check_recipients(vc, chain, list)?;
            }
        }
        let body = serde_json::to_vec(&(&p.items, &p.source, &p.mode))
            .map_err(|e| errors::internal(&e.to_string()))?;
        let hash = alloy_primitives::keccak256(body);
        payouts
            .submit(&caller.name, key, hash, &items)
            .map_err(|e| match e {
                switchyard_relayer::Error::IdempotencyConflict(_) => errors::conflict(
                    "idempotency_key",
                    "this key was used for a different request",
                ),
                switchyard_relayer::Error::OverBudget(o) => over_budget(&caller.name, &o),
                other => internal(&other),
            })
    }

    fn with_confirmations(&self, mut v: PayoutView) -> PayoutView {
        if v.state == PayoutState::Confirmed.as_str()
            && let Some(block) = v.block
        {
            let cur = self.model.current();
            let snap = &cur.snapshot;
            let chain = v.to.split(':').next().unwrap_or_default();
            let head = snap
                .topology
                .chains()
                .iter()
                .zip(&snap.chains)
                .find(|(c, _)| c.id.as_str() == chain)
                .and_then(|(_, live)| live.reading.as_ref().map(|r| r.head));
            v.confirmations = head.map(|h| h.saturating_add(1).saturating_sub(block).max(1));
        }
        v
    }

    /// A receiver of payout events, for `payout_subscribe`.
    pub fn payouts_subscribable(
        &self,
    ) -> Result<tokio::sync::broadcast::Receiver<serde_json::Value>, ErrorObjectOwned> {
        self.engine().map(|e| e.events.subscribe())
    }

    /// `payout_deliveries`: the webhook deliveries of one payout.
    pub fn payout_deliveries(
        &self,
        caller: &Caller,
        p: IdParams,
    ) -> Result<Deliveries, ErrorObjectOwned> {
        let engine = self.engine()?;
        self.visible(caller, &p.id)?;
        let deliveries = engine.outbox.deliveries(&p.id).map_err(|e| internal(&e))?;
        Ok(Deliveries { deliveries })
    }

    /// One payout the caller may see: a merchant sees its own only, and
    /// another's reads as unknown (no hint that it exists).
    fn visible(&self, caller: &Caller, id: &str) -> Result<PayoutView, ErrorObjectOwned> {
        self.payouts()?
            .get(id)
            .map_err(|e| internal(&e))?
            .filter(|v| caller.role >= Role::Operator || v.owner == caller.name)
            .ok_or_else(|| errors::unknown("id", id))
    }

    /// `payout_status`.
    pub fn payout_status(
        &self,
        caller: &Caller,
        p: IdParams,
    ) -> Result<PayoutView, ErrorObjectOwned> {
        let v = self.visible(caller, &p.id)?;
        Ok(self.with_confirmations(v))
    }

    /// `payout_list`.
    pub fn payout_list(
        &self,
        caller: &Caller,
        p: ListParams,
    ) -> Result<PayoutPage, ErrorObjectOwned> {
        let payouts = self.payouts()?;
        let state = match &p.state {
            None => None,
            Some(s) => Some(PayoutState::parse(s).ok_or_else(|| {
                errors::invalid_field(
                    "state",
                    &format!("one of {}", PayoutState::names().join(", ")),
                )
            })?),
        };
        let cursor = match &p.cursor {
            None => 0,
            Some(c) => c.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                errors::invalid_field("cursor", "a next_cursor from an earlier page")
            })?,
        };
        let limit = p.limit.unwrap_or(100);
        if limit == 0 || limit > 1000 {
            return Err(errors::invalid_field("limit", "between 1 and 1000"));
        }
        let items = payouts
            .list(
                (caller.role < Role::Operator).then_some(caller.name.as_str()),
                state,
                cursor,
                limit,
            )
            .map_err(|e| internal(&e))?;
        let next = if items.len() == limit {
            items.last().map(|v| v.seq.to_string())
        } else {
            None
        };
        let items: Vec<PayoutView> = items
            .into_iter()
            .map(|v| self.with_confirmations(v))
            .collect();
        Ok(PayoutPage {
            items,
            next_cursor: next,
        })
    }

    /// `payout_cancel`.
    pub fn payout_cancel(
        &self,
        caller: &Caller,
        p: IdParams,
    ) -> Result<Cancelled, ErrorObjectOwned> {
        let payouts = self.payouts()?;
        self.visible(caller, &p.id)?;
        match payouts.cancel(&p.id).map_err(|e| internal(&e))? {
            None => Err(errors::unknown("id", &p.id)),
            Some(done) => {
                let state = payouts
                    .get(&p.id)
                    .map_err(|e| internal(&e))?
                    .map(|v| v.state)
                    .unwrap_or_default();
                Ok(Cancelled {
                    cancelled: done,
                    state,
                })
            }
        }
    }
}

/// The typed refusal of a request over its merchant's budget.
fn over_budget(merchant: &str, o: &switchyard_relayer::payout::OverBudget) -> ErrorObjectOwned {
    use switchyard_relayer::payout::OverBudget;
    match o {
        OverBudget::Item { index, usd, max } => errors::over_limit(
            &format!("items[{index}].amount"),
            "relayer.merchant_budget.max_item_usd",
            &format!(
                "items[{index}] is worth ${usd}, over {merchant}'s largest item of ${max}; nothing was stored"
            ),
            serde_json::json!({ "usd": usd.to_string(), "max_item_usd": max.to_string() }),
        ),
        OverBudget::Unpriced { index } => errors::over_limit(
            &format!("items[{index}].to"),
            "relayer.merchant_budget.budget_usd",
            &format!(
                "items[{index}]'s asset has no USD price, so {merchant}'s budget cannot count it; nothing was stored"
            ),
            serde_json::json!({}),
        ),
        OverBudget::Window {
            used,
            requested,
            budget,
            window_ms,
        } => errors::over_limit(
            "items",
            "relayer.merchant_budget.budget_usd",
            &format!(
                "the request is worth ${requested}; {merchant} has used ${used} of its ${budget} per {} min; nothing was stored",
                window_ms / 60_000
            ),
            serde_json::json!({
                "used_usd": used.to_string(),
                "requested_usd": requested.to_string(),
                "budget_usd": budget.to_string(),
                "window_ms": window_ms,
            }),
        ),
    }
}

/// Whether a generic-lane chain can pay each recipient of `list` (field,
/// address) at all, asked of the chain in one go (Solana: a token
/// account's address given as a wallet is refused). A chain that cannot
/// answer now is a retryable error: nothing is stored, and the same request
/// with the same idempotency key can be sent again.
pub(super) fn check_recipients(
    vc: &switchyard_relayer::VmPayoutChain,
    chain: &str,
    list: &[(String, String)],
) -> Result<(), ErrorObjectOwned> {
    let addresses: Vec<String> = list.iter().map(|(_, a)| a.clone()).collect();
    let first = list.first().map_or("items", |(f, _)| f.as_str());
    let asked = tokio::runtime::Handle::current().block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            vc.adapter.check_recipients(&addresses),
        )
        .await
    });
    let answers = match asked {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return Err(errors::chain_unavailable(first, chain, &e.to_string())),
        Err(_) => {
            return Err(errors::chain_unavailable(
                first,
                chain,
                "no answer within 20 s",
            ));
        }
    };
    for ((field, _), answer) in list.iter().zip(&answers) {
        if let Err(why) = answer {
            return Err(errors::invalid_field(field, why));
        }
    }
    if answers.len() != list.len() {
        return Err(errors::chain_unavailable(
            first,
            chain,
            "an incomplete answer",
        ));
    }
    Ok(())
}
