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

use super::payout::{PayoutPlan, signature};
use super::{SolanaChain, classify};

/// Lamports per signature when the node cannot price a message (the
/// protocol's value since genesis).
const LAMPORTS_PER_SIGNATURE: u64 = 5_000;

fn fence_hash(fence: &Fence) -> ChainResult<Hash> {
    let b: [u8; 32] = fence
        .value
        .as_slice()
        .try_into()
        .map_err(|_| ChainError::Malformed("a Solana fence is a 32-byte blockhash".into()))?;
    Ok(Hash::new_from_array(b))
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
        let priority = pick.clamp(self.policy.min_cu_price, self.policy.max_cu_price);
        Ok(FeeLevels {
            base: alloy_primitives::U256::from(LAMPORTS_PER_SIGNATURE),
            priority: alloy_primitives::U256::from(priority),
        })
    }

    fn transaction(&self, plan: &PayoutPlan, blockhash: Hash, cu_price: u64) -> Transaction {
        let payer = self.payer();
        let message =
            Message::new_with_blockhash(&plan.instructions(cu_price), Some(&payer), &blockhash);
        let mut tx = Transaction::new_unsigned(message);
        tx.sign(&[self.payer.as_ref()], blockhash);
        tx
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
            let (hash, last_valid) = self
                .rpc
                .get_latest_blockhash_with_commitment(CommitmentConfig::confirmed())
                .await
                .map_err(classify)?;
            Ok(Fence {
                value: hash.to_bytes().to_vec(),
                valid_until: Some(last_valid),
            })
        })
    }

    fn simulate<'a>(&'a self, payload: &'a [u8]) -> VmFuture<'a, Simulation> {
        Box::pin(async move {
            let plan = PayoutPlan::decode(payload)?;
            let tx = self.transaction(&plan, Hash::default(), self.policy.min_cu_price);
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

    fn sign(&self, payload: &[u8], fence: &Fence, fees: &FeeLevels) -> ChainResult<SignedAttempt> {
        let plan = PayoutPlan::decode(payload)?;
        let price = u64::try_from(fees.priority)
            .unwrap_or(u64::MAX)
            .clamp(self.policy.min_cu_price, self.policy.max_cu_price);
        let tx = self.transaction(&plan, fence_hash(fence)?, price);
        let id = tx
            .signatures
            .first()
            .ok_or_else(|| ChainError::Malformed("signed transaction has no signature".into()))?;
        let raw = bincode::serialize(&tx)
            .map_err(|e| ChainError::Malformed(format!("serialize transaction: {e}")))?;
        let signatures = u128::from(tx.message.header.num_required_signatures);
        let base = u128::try_from(fees.base).unwrap_or(u128::from(LAMPORTS_PER_SIGNATURE));
        // Priority fee: micro-lamports per unit times the units asked for, rounded up.
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
            // The finalized height first, the history after: a signature
            // absent from a history read later than a finalized height past
            // the fence's bound can never appear.
            let finalized_height = self
                .rpc
                .get_block_height_with_commitment(CommitmentConfig::finalized())
                .await
                .map_err(classify)?;
            let status = self
                .rpc
                .get_signature_statuses_with_history(&[sig])
                .await
                .map_err(classify)?
                .value
                .into_iter()
                .next()
                .flatten();
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
                None => match fence.valid_until {
                    Some(bound) if finalized_height > bound => Ok(AttemptStatus::Dead(format!(
                        "finalized block height {finalized_height} is past the blockhash's last valid height {bound} and {sig} is not in the history"
                    ))),
                    _ => Ok(AttemptStatus::Live),
                },
            }
        })
    }

    fn block_at(&self, number: u64) -> VmFuture<'_, Option<switchyard_core::chain::BlockRef>> {
        Box::pin(self.block(number, CommitmentConfig::confirmed()))
    }
}

impl VmPayouts for SolanaChain {
    fn fit<'a>(&'a self, lines: &'a [PayoutLine]) -> VmFuture<'a, usize> {
        Box::pin(self.fit_lines(lines))
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
}
