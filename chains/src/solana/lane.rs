//! [`VmLane`] and [`VmPayouts`] for Solana: fences are recent blockhashes
//! (see the module docs of [`super`] for the proof of death), attempts are
//! legacy transactions signed by the hot wallet, which pays the fees and
//! the rent of the token accounts a payout creates.

use solana_client::rpc_config::{RpcSendTransactionConfig, RpcSimulateTransactionConfig};
use solana_commitment_config::{CommitmentConfig, CommitmentLevel};
use solana_sdk::hash::Hash;
use solana_sdk::message::Message;
use solana_sdk::transaction::Transaction;
use solana_transaction_status_client_types::TransactionConfirmationStatus;
use switchyard_core::address::ChainKind;
use switchyard_core::chain::vm::{
    AttemptStatus, Fence, LineOutcome, PayoutLine, SignedAttempt, VmFuture, VmLane, VmPayouts,
};
use switchyard_core::chain::{ChainError, ChainResult, FeeLevels, Simulation, TxId};

use super::payout::{PayoutPlan, Recipient, signature};
use super::vault::Payload;
use super::{SolanaChain, classify};

/// Lamports per signature when the node cannot price a message (the
/// protocol's value since genesis).
const LAMPORTS_PER_SIGNATURE: u64 = 5_000;

/// A fence's bytes: the blockhash (32) and the slot it was read at (8,
/// big-endian): the proof of death needs the node's history to reach back
/// to that slot.
fn fence_parts(fence: &Fence) -> ChainResult<(Hash, u64)> {
    let bad = || ChainError::Malformed("a Solana fence is a 32-byte blockhash and a slot".into());
    if fence.value.len() != 40 {
        return Err(bad());
    }
    let hash: [u8; 32] = fence.value[..32].try_into().map_err(|_| bad())?;
    let slot: [u8; 8] = fence.value[32..].try_into().map_err(|_| bad())?;
    Ok((Hash::new_from_array(hash), u64::from_be_bytes(slot)))
}

/// What the node said about an attempt it shows in no block, in the order
/// it was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Absent {
    /// The finalized slot (one `getEpochInfo` with the height, read first).
    pub finalized_slot: u64,
    /// The finalized block height.
    pub finalized_height: u64,
    /// The slot the signature statuses were answered at (read after).
    pub statuses_slot: u64,
    /// The oldest slot the node's history holds (`minimumLedgerSlot`).
    pub min_ledger_slot: u64,
}

/// Whether an attempt the node shows in no block is proven dead: the
/// finalized height is past the fence's last valid height, the statuses
/// were answered at or after that finalized slot (not by a node further
/// behind, as behind a load balancer), and the node's history reaches back
/// to the slot the fence was taken at (a pruned or history-less node cannot
/// say "absent"). Anything less is `Live`: never a guess.
pub(crate) fn judge_absent(
    fence_slot: u64,
    valid_until: Option<u64>,
    sig: &str,
    r: Absent,
) -> AttemptStatus {
    match valid_until {
        Some(bound)
            if r.finalized_height > bound
                && r.statuses_slot >= r.finalized_slot
                && r.min_ledger_slot <= fence_slot =>
        {
            AttemptStatus::Dead(format!(
                "finalized block height {} is past the blockhash's last valid height {bound} and {sig} is not in the history (slots {}-{})",
                r.finalized_height, r.min_ledger_slot, r.statuses_slot
            ))
        }
        _ => AttemptStatus::Live,
    }
}

impl SolanaChain {
    /// Fee levels: `base` lamports per signature, `priority` micro-lamports
    /// per compute unit (the policy's percentile of recent prioritization
    /// fees over the accounts a payout writes, within its bounds).
    pub async fn fee_levels(&self) -> ChainResult<FeeLevels> {
        let accounts = [self.payer(), self.float_account()];
        let mut recent: Vec<u64> = self
            .rpc
            .get_recent_prioritization_fees(&accounts)
            .await
            .map_err(classify)?
            .into_iter()
            .map(|f| f.prioritization_fee)
            .collect();
        recent.sort_unstable();
        let pick = if recent.is_empty() {
            0
        } else {
            let ix = (recent.len() - 1) * usize::from(self.policy.percentile.min(100)) / 100;
            recent[ix]
        };
        let priority = self.policy.bound(pick);
        Ok(FeeLevels {
            base: alloy_primitives::U256::from(LAMPORTS_PER_SIGNATURE),
            priority: alloy_primitives::U256::from(priority),
        })
    }

    fn transaction(
        &self,
        plan: &PayoutPlan,
        blockhash: Hash,
        cu_price: u64,
    ) -> ChainResult<Transaction> {
        let payer = self.payer();
        let message =
            Message::new_with_blockhash(&plan.instructions(cu_price), Some(&payer), &blockhash);
        let mut tx = Transaction::new_unsigned(message);
        // A stored payload whose fee payer is not this hot wallet (another
        // payer's plan, a corrupt row) is an error, not a panic. Other
        // signers (a vault's) sign after.
        tx.try_partial_sign(&[self.payer.as_ref()], blockhash)
            .map_err(|e| ChainError::Malformed(format!("cannot sign this payload: {e}")))?;
        Ok(tx)
    }
}

impl VmLane for SolanaChain {
    fn kind(&self) -> ChainKind {
        ChainKind::Solana
    }

    fn sender(&self) -> String {
        self.payer().to_string()
    }

    fn fresh_fence(&self) -> VmFuture<'_, Fence> {
        Box::pin(async move {
            let r = self
                .rpc
                .get_latest_blockhash_with_commitment_and_context(CommitmentConfig::confirmed())
                .await
                .map_err(classify)?;
            let (hash, last_valid) = r.value;
            let mut value = hash.to_bytes().to_vec();
            value.extend_from_slice(&r.context.slot.to_be_bytes());
            Ok(Fence {
                value,
                valid_until: Some(last_valid),
            })
        })
    }

    fn simulate<'a>(&'a self, payload: &'a [u8]) -> VmFuture<'a, Simulation> {
        Box::pin(async move {
            let plan = Payload::decode(payload)?.plan;
            let tx = self.transaction(&plan, Hash::default(), self.policy.bound(0))?;
            let config = RpcSimulateTransactionConfig {
                sig_verify: false,
                replace_recent_blockhash: true,
                commitment: Some(CommitmentConfig::confirmed()),
                ..RpcSimulateTransactionConfig::default()
            };
            let r = self
                .rpc
                .simulate_transaction_with_config(&tx, config)
                .await
                .map_err(classify)?
                .value;
            if let Some(err) = r.err {
                let logs = r.logs.unwrap_or_default();
                let tail = logs
                    .iter()
                    .rev()
                    .take(3)
                    .rev()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" | ");
                return Err(ChainError::WouldRevert(format!("{err}: {tail}")));
            }
            Ok(Simulation {
                units: r.units_consumed.unwrap_or(0),
            })
        })
    }

    fn fees(&self) -> VmFuture<'_, FeeLevels> {
        Box::pin(self.fee_levels())
    }

    fn sign<'a>(
        &'a self,
        payload: &'a [u8],
        fence: &'a Fence,
        fees: &'a FeeLevels,
    ) -> VmFuture<'a, SignedAttempt> {
        Box::pin(async move {
            let Payload { plan, release } = Payload::decode(payload)?;
            let price = self
                .policy
                .bound(u64::try_from(fees.priority).unwrap_or(u64::MAX));
            let mut tx = self.transaction(&plan, fence_parts(fence)?.0, price)?;
            if let Some(check) = &release {
                // The vault's signers check the message and sign it.
                let v = self.vault_side()?;
                let sigs = v.signers.sign(&v.ctx, check, &tx.message).await?;
                let required = usize::from(tx.message.header.num_required_signatures);
                for (key, sig) in sigs {
                    let at = tx.message.account_keys[..required]
                        .iter()
                        .position(|k| *k == key)
                        .ok_or_else(|| {
                            ChainError::Malformed(format!("{key} is not a signer of this release"))
                        })?;
                    tx.signatures[at] = sig;
                }
            }
            if !tx.is_signed() {
                return Err(ChainError::Transport(
                    "the release lacks signatures of the vault's signers".into(),
                ));
            }
            let id = tx.signatures.first().ok_or_else(|| {
                ChainError::Malformed("signed transaction has no signature".into())
            })?;
            let raw = bincode::serialize(&tx)
                .map_err(|e| ChainError::Malformed(format!("serialize transaction: {e}")))?;
            let signatures = u128::from(tx.message.header.num_required_signatures);
            let base = u128::try_from(fees.base).unwrap_or(u128::from(LAMPORTS_PER_SIGNATURE));
            // Priority fee: micro-lamports per unit times the units asked
            // for, rounded up.
            let priority = (u128::from(price) * u128::from(plan.cu_limit)).div_ceil(1_000_000);
            let max_cost = signatures
                .saturating_mul(base)
                .saturating_add(priority)
                .saturating_add(u128::from(plan.rent));
            Ok(SignedAttempt {
                id: TxId(id.as_ref().to_vec()),
                raw,
                max_cost,
            })
        })
    }

    fn broadcast<'a>(&'a self, raw: &'a [u8]) -> VmFuture<'a, ()> {
        Box::pin(async move {
            let tx: Transaction = bincode::deserialize(raw)
                .map_err(|e| ChainError::Malformed(format!("stored transaction: {e}")))?;
            let config = RpcSendTransactionConfig {
                // Simulated before signing; a lagging node's preflight would
                // refuse a blockhash it has not seen yet.
                skip_preflight: true,
                preflight_commitment: Some(CommitmentLevel::Confirmed),
                ..RpcSendTransactionConfig::default()
            };
            self.rpc
                .send_transaction_with_config(&tx, config)
                .await
                .map_err(classify)?;
            Ok(())
        })
    }

    fn status<'a>(&'a self, id: &'a TxId, fence: &'a Fence) -> VmFuture<'a, AttemptStatus> {
        Box::pin(async move {
            let sig = signature(id)?;
            let (_, fence_slot) = fence_parts(fence)?;
            // The finalized slot and height first, the history after: a
            // signature absent from a history read later than a finalized
            // height past the fence's bound can never appear.
            let epoch = self
                .rpc
                .get_epoch_info_with_commitment(CommitmentConfig::finalized())
                .await
                .map_err(classify)?;
            let statuses = self
                .rpc
                .get_signature_statuses_with_history(&[sig])
                .await
                .map_err(classify)?;
            let statuses_slot = statuses.context.slot;
            let status = statuses.value.into_iter().next().flatten();
            match status {
                Some(s) => {
                    let Some(block) = self.block(s.slot, CommitmentConfig::confirmed()).await?
                    else {
                        // Seen at `processed` in a block not stored yet (or
                        // on a fork being dropped): not decided.
                        return Ok(AttemptStatus::Live);
                    };
                    Ok(AttemptStatus::Included {
                        block,
                        success: s.err.is_none(),
                        finalized: s.confirmation_status
                            == Some(TransactionConfirmationStatus::Finalized),
                    })
                }
                None => {
                    if fence.valid_until.is_none_or(|b| epoch.block_height <= b) {
                        return Ok(AttemptStatus::Live);
                    }
                    let min_ledger_slot = self.rpc.minimum_ledger_slot().await.map_err(classify)?;
                    Ok(judge_absent(
                        fence_slot,
                        fence.valid_until,
                        &sig.to_string(),
                        Absent {
                            finalized_slot: epoch.absolute_slot,
                            finalized_height: epoch.block_height,
                            statuses_slot,
                            min_ledger_slot,
                        },
                    ))
                }
            }
        })
    }

    fn show_id(&self, id: &TxId) -> String {
        signature(id).map_or_else(|_| format!("{:?}", id.0), |s| s.to_string())
    }

    fn block_at(&self, number: u64) -> VmFuture<'_, Option<switchyard_core::chain::BlockRef>> {
        Box::pin(self.block(number, CommitmentConfig::confirmed()))
    }
}

impl VmPayouts for SolanaChain {
    fn fit<'a>(&'a self, lines: &'a [PayoutLine]) -> VmFuture<'a, usize> {
        Box::pin(self.fit_lines(lines))
    }

    fn float(&self) -> VmFuture<'_, u128> {
        Box::pin(async move { self.token_account_balance(&self.float_account()).await })
    }

    fn check_recipients<'a>(
        &'a self,
        recipients: &'a [String],
    ) -> VmFuture<'a, Vec<std::result::Result<(), String>>> {
        Box::pin(async move {
            let mut out: Vec<std::result::Result<(), String>> =
                Vec::with_capacity(recipients.len());
            let mut wallets = Vec::new();
            for r in recipients {
                match r.parse::<solana_sdk::pubkey::Pubkey>() {
                    Ok(w) if w == self.payer() => {
                        out.push(Err(
                            "this is the hot wallet that pays: it cannot pay itself".to_owned(),
                        ));
                    }
                    Ok(w) => {
                        wallets.push((out.len(), w));
                        out.push(Ok(()));
                    }
                    Err(_) => out.push(Err(format!("{r:?} is not a Solana address"))),
                }
            }
            let keys: Vec<_> = wallets.iter().map(|(_, w)| *w).collect();
            let needs = self.recipients(&keys).await?;
            for ((at, _), need) in wallets.iter().zip(needs) {
                out[*at] = match need {
                    Recipient::Ready | Recipient::NeedsAccount => Ok(()),
                    Recipient::TokenAccount => Err(
                        "this address is a token account, not a wallet: give the owner's wallet address (its token account for this mint is derived from it)".to_owned(),
                    ),
                    Recipient::Unusable(why) => Err(why),
                };
            }
            Ok(out)
        })
    }

    fn payout_payload<'a>(&'a self, lines: &'a [PayoutLine]) -> VmFuture<'a, Vec<u8>> {
        Box::pin(async move { Ok(self.payout_plan(lines).await?.encode()) })
    }

    fn outcomes<'a>(
        &'a self,
        id: &'a TxId,
        lines: &'a [PayoutLine],
    ) -> VmFuture<'a, Vec<LineOutcome>> {
        Box::pin(self.line_outcomes(id, lines))
    }

    fn float_debits(
        &self,
        after: u64,
    ) -> VmFuture<'_, (Vec<switchyard_core::chain::vm::FloatDebit>, u64)> {
        Box::pin(self.float_debits_after(after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: u64 = 1_000;

    fn absent(finalized_height: u64, statuses_slot: u64, min_ledger_slot: u64) -> Absent {
        Absent {
            finalized_slot: 1_200,
            finalized_height,
            statuses_slot,
            min_ledger_slot,
        }
    }

    fn dead(s: &AttemptStatus) -> bool {
        matches!(s, AttemptStatus::Dead(_))
    }

    #[test]
    fn an_absent_attempt_is_dead_only_past_its_bound() {
        // Past the bound, answered at the finalized slot, history from slot 0.
        assert!(dead(&judge_absent(
            900,
            Some(BOUND),
            "s",
            absent(1_001, 1_200, 0)
        )));
        // Not yet past the bound.
        assert!(!dead(&judge_absent(
            900,
            Some(BOUND),
            "s",
            absent(1_000, 1_200, 0)
        )));
        // No bound at all.
        assert!(!dead(&judge_absent(
            900,
            None,
            "s",
            absent(5_000, 5_000, 0)
        )));
    }

    #[test]
    fn a_node_behind_or_without_the_fences_history_proves_nothing() {
        // The statuses came from a node behind the one that gave the
        // finalized height (a load balancer): it may not have the block.
        assert!(!dead(&judge_absent(
            900,
            Some(BOUND),
            "s",
            absent(1_001, 1_150, 0)
        )));
        // The node's history starts after the fence was taken (pruned, or
        // a node restored from a snapshot): "absent" means nothing.
        assert!(!dead(&judge_absent(
            900,
            Some(BOUND),
            "s",
            absent(1_001, 1_200, 950)
        )));
    }
}
