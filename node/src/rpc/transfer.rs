//! `transfer_submit` and `transfer_status`: a routed transfer executed by
//! the relayer, idempotent per key; planning is the relayer's
//! ([`switchyard_relayer::plan`]).

use jsonrpsee::types::ErrorObjectOwned;
use switchyard_api::transfer::{StatusParams, TransferParams, TransferSubmitted, TransferView};
use switchyard_core::{Amount, U256, UsdE8};
use switchyard_relayer::PlanError;
use switchyard_router::QuoteParams;

use super::AppState;
use super::errors;
use switchyard_api::Caller;

/// The API's word for a planning failure.
pub fn plan_error(e: PlanError) -> ErrorObjectOwned {
    match e {
        PlanError::Input(e) => errors::from_core(&e),
        PlanError::NoRoute { excluded } => {
            errors::no_route(serde_json::to_value(&excluded).unwrap_or_default())
        }
        PlanError::NotExecutable { field, reason } => errors::not_executable(&field, &reason),
    }
}

impl AppState {
    /// `transfer_submit`.
    pub fn transfer_submit(
        &self,
        caller: &Caller,
        p: TransferParams,
    ) -> Result<TransferSubmitted, ErrorObjectOwned> {
        let engine = self.engine()?;
        let key = p.idempotency_key.as_str();
        super::check_idempotency_key(key)?;
        if let Some(why) = self.route_paused(&p.from, &p.to) {
            return Err(errors::not_executable("route", &why));
        }
        let cur = self.model.current();
        {
            let t = &cur.snapshot.topology;
            let to = t.asset(
                t.resolve_asset("to", &p.to)
                    .map_err(|e| errors::from_core(&e))?,
            );
            let chain = t.chain(to.chain).id.as_str();
            engine.check_denied(&caller.name, "recipient", chain, &p.recipient)?;
            // A wallet on a generic-lane chain is read from the chain now:
            // a token account's address taken for a wallet would strand the
            // release (the relayer's own wallet is a float top-up).
            if let Some(vc) = engine.payouts.vm_chains().get(chain)
                && p.recipient != vc.lane.sender()
            {
                super::payout::check_recipients(
                    vc,
                    chain,
                    &[("recipient".to_owned(), p.recipient.clone())],
                )?;
            }
        }
        let qp = QuoteParams {
            from: p.from.clone(),
            to: p.to.clone(),
            amount: p.amount.clone(),
            mode: Some(p.mode.clone().unwrap_or_else(|| "cheapest".into())),
            max_hops: p.max_hops,
            ..QuoteParams::default()
        };
        let hops = switchyard_relayer::plan(
            &cur.graph,
            &engine.transfers,
            &qp,
            self.default_max_hops,
            &p.recipient,
        )
        .map_err(plan_error)?;
        let request = serde_json::to_value(&p).unwrap_or_default();
        // Large moves of the relayer's own funds take two operators: the
        // value of what leaves, in USD (no price: counted as large).
        let second = match engine.transfer_dual {
            Some(dual) => {
                let t = &cur.snapshot.topology;
                let asset = t.asset(
                    t.resolve_asset("from", &p.from)
                        .map_err(|e| errors::from_core(&e))?,
                );
                let amount = Amount::parse_decimal("amount", &p.amount, asset.decimals)
                    .map_err(|e| errors::from_core(&e))?;
                let usd = amount
                    .usd_value(asset.usd_price)
                    .unwrap_or(UsdE8(U256::MAX));
                (usd >= dual).then_some(caller.name.as_str())
            }
            None => None,
        };
        let (transfer, created) = engine
            .transfers
            .submit_as(key, &request, &hops, second)
            .map_err(|e| match e {
                switchyard_relayer::Error::IdempotencyConflict(_) => errors::conflict(
                    "idempotency_key",
                    "this key was used for a different request",
                ),
                other => errors::internal(&other.to_string()),
            })?;
        Ok(TransferSubmitted { created, transfer })
    }

    /// `transfer_status`.
    pub fn transfer_status(&self, p: StatusParams) -> Result<TransferView, ErrorObjectOwned> {
        let engine = self.engine()?;
        engine
            .transfers
            .get(&p.transfer_id)
            .map_err(|e| errors::internal(&e.to_string()))?
            .ok_or_else(|| errors::unknown("transfer_id", &p.transfer_id))
    }
}
