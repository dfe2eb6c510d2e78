//! The steps of a hop with an end at a bridge vault on a chain without EVM
//! (Solana), through that chain's generic lane:
//!
//! ```text
//! from a vault chain:  pending    -> a deposit into the vault reserved (memo:
//!                                    the transfer, hop and destination)
//!                      depositing -> final: the vault was credited exactly
//!                                    the amount; the deposit id is the
//!                                    keccak-256 of its signature
//!                      (then the EVM escrow releases it, as any hop)
//! to a vault chain:    deposited  -> not released yet (its receipt is
//!                                    absent) and the vault holds enough: a
//!                                    release reserved, signed by the
//!                                    vault's signers when the lane signs
//!                      releasing  -> final and executed: done. Executed
//!                                    and failed: released by another
//!                                    (done), or signed again
//! ```
//!
//! A vault pays a deposit at most once (its receipt, see
//! `switchyard_chains::solana::vault`), and the lane never re-signs an
//! attempt before the last is proven dead, so neither a crash nor a second
//! release can pay twice. A vault leg has no on-chain cancellation, so it is
//! not refunded by Switchyard: its release waits (with an alert) until the
//! vault can pay it.

// The parent module's types and imports; these are more of its methods.
use super::*;
use crate::states::IntentState;
use crate::states::sql::{HOP_DEPOSITED, HOP_RELEASING};
use switchyard_core::chain::vm::{LineOutcome, VaultRelease};

/// A uint256 amount as a VM's base units.
fn units(v: U256) -> Result<u128> {
    u128::try_from(v).map_err(|_| Error::Corrupt(format!("amount {v} exceeds 128 bits")))
}

impl Transfers {
    /// The transaction id the chain knows an included intent by.
    fn included_tx(v: &VaultHandle, intent: &crate::vmlane::Intent) -> Result<Option<Vec<u8>>> {
        let Some(at) = intent.attempt else {
            return Ok(None);
        };
        Ok(v.lane
            .attempts(intent.id)?
            .into_iter()
            .find(|a| a.id == at)
            .map(|a| a.tx_id))
    }

    /// How explorers write an intent's included (else latest) transaction.
    pub(super) fn vm_tx(&self, domain: u64, key: &str) -> Result<Option<String>> {
        let Some(v) = self.vaults.get(&domain) else {
            return Ok(None);
        };
        let Some(intent) = v.lane.get(key)? else {
            return Ok(None);
        };
        let id = match Self::included_tx(v, &intent)? {
            Some(id) => Some(id),
            None => v.lane.attempts(intent.id)?.pop().map(|a| a.tx_id),
        };
        Ok(id.map(|id| v.lane.adapter().show_id(&switchyard_core::chain::TxId(id))))
    }

    pub(super) async fn start_vault_deposit(
        &self,
        id: &str,
        i: usize,
        plan: &HopPlan,
    ) -> Result<Step> {
        let v = self.vault(plan.from.chain_id)?;
        let key = intent(id, i, "deposit");
        if v.lane.get(&key)?.is_none() {
            let to = plan
                .vm_recipient
                .clone()
                .unwrap_or_else(|| plan.recipient.to_checksum(None));
            let memo = format!("switchyard:deposit:{id}:{i}:to:{}:{to}", plan.to.chain_id);
            let payload = v
                .vault
                .deposit_payload(units(plan.amount_in)?, &memo)
                .await?;
            v.lane.reserve(&key, &payload)?;
        }
        self.set_hop(id, i, HopState::Pending, HopState::Depositing, None)?;
        Ok(Step::Wait)
    }

    pub(super) async fn await_vault_deposit(
        &self,
        id: &str,
        i: usize,
        plan: &HopPlan,
    ) -> Result<Step> {
        let v = self.vault(plan.from.chain_id)?;
        let Some(rec) = v.lane.get(&intent(id, i, "deposit"))? else {
            return Err(Error::Corrupt("depositing hop without its deposit".into()));
        };
        match rec.state {
            IntentState::Dead => {
                return Ok(Step::Failed(format!(
                    "deposit withdrawn before it executed: {}",
                    rec.why_dead.unwrap_or_default()
                )));
            }
            IntentState::Final => {}
            _ => return Ok(Step::Wait),
        }
        let Some(tx) = Self::included_tx(v, &rec)? else {
            return Err(Error::Corrupt("final deposit without its attempt".into()));
        };
        let txid = switchyard_core::chain::TxId(tx.clone());
        match v
            .vault
            .deposit_outcome(&txid, units(plan.amount_in)?)
            .await?
        {
            LineOutcome::Paid => {
                let dep = B256::from(keccak256(&tx));
                self.set_hop(id, i, HopState::Depositing, HopState::Deposited, Some(dep))?;
                Ok(Step::Wait)
            }
            // Executed and failed: nothing moved (a transaction is atomic).
            LineOutcome::NotPaid(why) if rec.success == Some(false) => {
                Ok(Step::Failed(format!("deposit: {why}")))
            }
            LineOutcome::NotPaid(why) => {
                // It executed and the vault's credit is not the amount: what
                // to release is an operator's call, never a guess.
                self.note(
                    id,
                    i,
                    &format!(
                        "held for an operator: deposit {}: {why}",
                        v.lane.adapter().show_id(&txid)
                    ),
                )?;
                Ok(Step::Wait)
            }
        }
    }

    pub(super) async fn start_vault_release(
        &self,
        id: &str,
        i: usize,
        h: &HopRow,
        deposit: B256,
    ) -> Result<Step> {
        let plan = &h.plan;
        let v = self.vault(plan.to.chain_id)?;
        let name = intent(id, i, &release_kind(h.release_seq));
        if v.lane.get(&name)?.is_none() {
            if v.vault.released(plan.from.chain_id, deposit.0).await? {
                // Paid by an earlier release of this deposit.
                self.set_hop(id, i, HopState::Deposited, HopState::Releasing, None)?;
                return Ok(Step::Wait);
            }
            if h.since_ms.is_some()
                && let Some(step) = self.waited_too_long(id, i, h)?
            {
                return Ok(step);
            }
            let want = units(plan.amount_out)?;
            let held = v.vault.vault_balance().await?;
            if held < want {
                return self
                    .wait_for_liquidity(
                        id,
                        i,
                        h,
                        &format!(
                            "vault {} holds {held} of the {want} to release",
                            v.vault.vault()
                        ),
                    )
                    .await;
            }
            let recipient = plan.vm_recipient.clone().ok_or_else(|| {
                Error::Corrupt("a release to a vault chain names no wallet".into())
            })?;
            let payload = v
                .vault
                .release_payload(&VaultRelease {
                    source_domain: plan.from.chain_id,
                    deposit_id: deposit.0,
                    recipient,
                    amount: want,
                })
                .await?;
            v.lane.reserve(&name, &payload)?;
        }
        self.set_hop(id, i, HopState::Deposited, HopState::Releasing, None)?;
        Ok(Step::Wait)
    }

    pub(super) async fn await_vault_release(&self, id: &str, i: usize, h: &HopRow) -> Result<Step> {
        let plan = &h.plan;
        let v = self.vault(plan.to.chain_id)?;
        let deposit = h
            .deposit
            .ok_or_else(|| Error::Corrupt("releasing hop without its deposit".into()))?;
        let name = intent(id, i, &release_kind(h.release_seq));
        let done = |this: &Self| -> Result<Step> {
            Ok(
                if this.set_hop(id, i, HopState::Releasing, HopState::Done, None)? {
                    Step::Done
                } else {
                    Step::Wait
                },
            )
        };
        let Some(rec) = v.lane.get(&name)? else {
            // Released by an earlier release of this deposit (see
            // start_vault_release): the receipt is final.
            if v.vault.released(plan.from.chain_id, deposit.0).await? {
                return done(self);
            }
            return Err(Error::Corrupt(
                "releasing hop with neither its release nor the deposit's receipt".into(),
            ));
        };
        if rec.succeeded() {
            return done(self);
        }
        let executed_and_failed = rec.state == IntentState::Final && rec.success == Some(false);
        // A release refused as it is may be refused because another one
        // paid (its receipt exists): then it is withdrawn and the hop done.
        if (executed_and_failed || rec.fails_as_is() || rec.state == IntentState::Dead)
            && v.vault.released(plan.from.chain_id, deposit.0).await?
        {
            if rec.state != IntentState::Final {
                v.lane
                    .withdraw(&name, "the deposit was released by another release")?;
            }
            return done(self);
        }
        if executed_and_failed || rec.state == IntentState::Dead {
            // Nothing moved: sign another (the receipt keeps it to one).
            tracing::warn!(transfer = %id, hop = i, "vault release did not execute; signing another");
            self.note(
                id,
                i,
                &format!(
                    "waiting: release {} did not execute; signing another",
                    h.release_seq
                ),
            )?;
            self.store.conn().execute(
                &format!("UPDATE hop SET state = {HOP_DEPOSITED}, release_seq = release_seq + 1 WHERE transfer_id = ?1 AND idx = ?2 AND state = {HOP_RELEASING}"),
                params![id, i64::try_from(i).unwrap_or(i64::MAX)],
            )?;
        } else if let Some(e) = rec.last_error.as_deref().filter(|_| rec.fails_as_is()) {
            self.note(
                id,
                i,
                &format!("waiting: the release is refused for now: {e}"),
            )?;
        }
        Ok(Step::Wait)
    }
}
