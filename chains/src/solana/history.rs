//! The float's history, for reconciliation: every finalized transaction
//! that took tokens out of the hot wallet's token account, whoever signed
//! it (the relayer's own batches and deposits, or anyone else holding the
//! key), read from `getSignaturesForAddress` and each transaction's token
//! balances.

use solana_client::rpc_client::GetConfirmedSignaturesForAddress2Config;
use solana_client::rpc_config::RpcTransactionConfig;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;
use solana_transaction_status_client_types::option_serializer::OptionSerializer;
use solana_transaction_status_client_types::{UiTransactionEncoding, UiTransactionTokenBalance};
use switchyard_core::chain::vm::FloatDebit;
use switchyard_core::chain::{ChainError, ChainResult, TxId};

use super::{SolanaChain, classify};

/// Signatures per page of `getSignaturesForAddress` (its maximum).
const PAGE: usize = 1_000;

/// Transactions read per call at most (whole slots: a slot with more is
/// read whole).
const PER_CALL: usize = 200;

impl SolanaChain {
    /// The float's debits in finalized slots after `after`, oldest first,
    /// and the slot the next call starts after.
    pub async fn float_debits_after(&self, after: u64) -> ChainResult<(Vec<FloatDebit>, u64)> {
        let finalized = self
            .rpc
            .get_slot_with_commitment(CommitmentConfig::finalized())
            .await
            .map_err(classify)?;
        if finalized <= after {
            return Ok((Vec::new(), after));
        }
        let float = self.float_account();
        // Newest first: page back until the cursor.
        let mut seen: Vec<(Signature, u64, bool)> = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .rpc
                .get_signatures_for_address_with_config(
                    &float,
                    GetConfirmedSignaturesForAddress2Config {
                        before,
                        until: None,
                        limit: Some(PAGE),
                        commitment: Some(CommitmentConfig::finalized()),
                    },
                )
                .await
                .map_err(classify)?;
            let full = page.len() == PAGE;
            let mut reached = false;
            for s in page {
                if s.slot <= after {
                    reached = true;
                    break;
                }
                let sig: Signature = s
                    .signature
                    .parse()
                    .map_err(|_| ChainError::Malformed(format!("signature {:?}", s.signature)))?;
                before = Some(sig);
                if s.slot <= finalized {
                    seen.push((sig, s.slot, s.err.is_none()));
                }
            }
            if reached || !full {
                break;
            }
        }
        seen.reverse();
        // Whole slots, about PER_CALL transactions.
        let mut upto = finalized;
        if seen.len() > PER_CALL {
            // Through the slot of the PER_CALL-th, all of it.
            upto = seen[PER_CALL - 1].1;
            seen.retain(|(_, s, _)| *s <= upto);
        }
        let mut out = Vec::new();
        for (sig, slot, ok) in seen {
            // A failed transaction moved no tokens.
            if !ok {
                continue;
            }
            if let Some(d) = self.float_debit(&sig, slot, &float).await? {
                out.push(d);
            }
        }
        Ok((out, upto))
    }

    /// What `sig` took out of `float`, if anything.
    async fn float_debit(
        &self,
        sig: &Signature,
        slot: u64,
        float: &Pubkey,
    ) -> ChainResult<Option<FloatDebit>> {
        let tx = self.final_tx(sig).await?;
        if tx.err.is_some() {
            return Ok(None);
        }
        let account = |i: usize| tx.keys.get(i).copied().unwrap_or_default();
        let balance = |list: &[(usize, Option<String>, u128)], a: &Pubkey| -> u128 {
            list.iter()
                .filter(|(i, _, _)| account(*i) == *a)
                .map(|(_, _, v)| *v)
                .sum()
        };
        let lost = balance(&tx.pre, float).saturating_sub(balance(&tx.post, float));
        if lost == 0 {
            return Ok(None);
        }
        let mut to: Vec<(String, u128)> = Vec::new();
        for (i, owner, after) in &tx.post {
            let a = account(*i);
            let gained = after.saturating_sub(balance(&tx.pre, &a));
            if gained > 0 && a != *float {
                let owner = owner.clone().unwrap_or_else(|| a.to_string());
                match to.iter_mut().find(|(o, _)| *o == owner) {
                    Some((_, v)) => *v = v.saturating_add(gained),
                    None => to.push((owner, gained)),
                }
            }
        }
        Ok(Some(FloatDebit {
            tx: TxId(sig.as_ref().to_vec()),
            block: slot,
            amount: lost,
            to,
        }))
    }

    /// The finalized transaction `sig`: whether it failed, its account
    /// keys (static, then loaded from lookup tables: writable, read-only)
    /// and the balances of this chain's mint before and after it (account
    /// index, owner, base units). A node that does not have it yet is a
    /// transport error (another call or node will).
    pub(super) async fn final_tx(&self, sig: &Signature) -> ChainResult<FinalTx> {
        let config = RpcTransactionConfig {
            encoding: Some(UiTransactionEncoding::Base64),
            commitment: Some(CommitmentConfig::finalized()),
            max_supported_transaction_version: Some(0),
        };
        let tx = self
            .rpc
            .get_transaction_with_config(sig, config)
            .await
            .map_err(|e| match e.kind() {
                // `null`: this node does not have it (yet).
                solana_client::client_error::ClientErrorKind::SerdeJson(_) => {
                    ChainError::Transport(format!("transaction {sig} not found yet: {e}"))
                }
                _ => classify(e),
            })?;
        let meta = tx
            .transaction
            .meta
            .ok_or_else(|| ChainError::Malformed(format!("transaction {sig} has no meta")))?;
        let decoded =
            tx.transaction.transaction.decode().ok_or_else(|| {
                ChainError::Malformed(format!("transaction {sig} does not decode"))
            })?;
        let mut keys = decoded.message.static_account_keys().to_vec();
        if let OptionSerializer::Some(l) = &meta.loaded_addresses {
            for k in l.writable.iter().chain(&l.readonly) {
                keys.push(k.parse().map_err(|_| {
                    ChainError::Malformed(format!("transaction {sig}: loaded address {k:?}"))
                })?);
            }
        }
        let mint = self.mint.to_string();
        let read = |b: &OptionSerializer<Vec<UiTransactionTokenBalance>>| {
            let mut v = Vec::new();
            if let OptionSerializer::Some(list) = b {
                for t in list.iter().filter(|t| t.mint == mint) {
                    let amount = t.ui_token_amount.amount.parse::<u128>().map_err(|_| {
                        ChainError::Malformed(format!(
                            "token amount {:?}",
                            t.ui_token_amount.amount
                        ))
                    })?;
                    let owner = match &t.owner {
                        OptionSerializer::Some(o) => Some(o.clone()),
                        _ => None,
                    };
                    v.push((usize::from(t.account_index), owner, amount));
                }
            }
            Ok::<_, ChainError>(v)
        };
        Ok(FinalTx {
            err: meta.err.as_ref().map(ToString::to_string),
            keys,
            pre: read(&meta.pre_token_balances)?,
            post: read(&meta.post_token_balances)?,
        })
    }
}

/// A finalized transaction as outcomes and reconciliation read it.
pub(super) struct FinalTx {
    /// Why it failed, if it did.
    pub(super) err: Option<String>,
    /// Its account keys: static, then loaded.
    pub(super) keys: Vec<Pubkey>,
    /// (account index, owner, base units) of the chain's mint, before.
    pub(super) pre: Vec<(usize, Option<String>, u128)>,
    /// The same, after.
    pub(super) post: Vec<(usize, Option<String>, u128)>,
}
