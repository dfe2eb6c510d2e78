//! Reconciliation of the chains' `Paid` events with the store.

// The parent module's types and imports; these are more of its methods.
use super::*;

impl Payouts {
    /// Compares the `Paid` events of every batcher, up to the chain's final
    /// head, with the store, and records each difference once as an alert:
    /// a payment the store does not know (`unknown_payout`), one whose
    /// recipient or amount differs (`payout_mismatch`), or one the store
    /// does not count as paid (`paid_but_not_settled`). Returns how many
    /// new alerts it recorded.
    /// Each chain on its own: one whose node cannot answer is retried at
    /// the next round, the others go on.
    pub async fn reconcile(&self) -> Result<usize> {
        let mut new = 0;
        for (chain_id, pc) in &self.chains {
            match self.reconcile_chain(chain_id, pc).await {
                Ok(n) => new += n,
                Err(e @ Error::Store(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(chain_id, error = %e, "reconciliation of this chain failed; retrying next round");
                }
            }
        }
        for (name, v) in &self.vm {
            match self.reconcile_vm(name, v).await {
                Ok(n) => new += n,
                Err(e @ Error::Store(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(chain = %name, error = %e, "reconciliation of this chain failed; retrying next round");
                }
            }
        }
        Ok(new)
    }

    /// A generic-lane chain: every final transaction that took tokens out
    /// of its float, from the stored cursor on, must be an attempt of one
    /// of the lane's intents (a payout batch, a bridge deposit); one that
    /// is not is recorded once as an `unknown_payout` alert (someone else
    /// spent the float: a leaked key, another process). The cursor is kept
    /// under the chain's bridge domain with the alerts, in one transaction.
    async fn reconcile_vm(&self, name: &str, v: &VmPayoutChain) -> Result<usize> {
        let key = crate::governor::key(0, Some(name));
        let after = self.reconcile_from(key)?.saturating_sub(1);
        let (debits, upto) = v.adapter.float_debits(after).await?;
        let mut alerts = Vec::new();
        for d in &debits {
            let ours: Option<String> = self
                .store
                .conn()
                .query_row(
                    "SELECT i.intent FROM vm_attempt a JOIN vm_intent i ON i.id = a.intent_id WHERE a.tx_id = ?1 AND i.chain = ?2",
                    params![d.tx.0, name],
                    |r| r.get(0),
                )
                .optional()?;
            if ours.is_none() {
                let to: Vec<String> = d.to.iter().map(|(o, a)| format!("{a} to {o}")).collect();
                alerts.push(format!(
                    "{} left the float in {} (block {}): {}; no transaction of this relayer",
                    d.amount,
                    v.adapter.show_id(&d.tx),
                    d.block,
                    if to.is_empty() {
                        "burned or closed".to_owned()
                    } else {
                        to.join(", ")
                    }
                ));
            }
        }
        let alerts: Vec<(&str, String)> =
            alerts.into_iter().map(|d| ("unknown_payout", d)).collect();
        self.record_reconciled(key, name, &alerts, upto)
    }

    async fn reconcile_chain(&self, chain_id: &u64, pc: &PayoutChain) -> Result<usize> {
        use switchyard_core::chain::ChainReader;
        let mut new = 0;
        {
            let chain = i64::try_from(*chain_id).map_err(|_| Error::Corrupt("chain".into()))?;
            let final_head = pc.lane.chain.finalized_head().await?.number;
            let from = self.reconcile_from(chain)?;
            if from > final_head {
                return Ok(0);
            }
            // At most 5,000 blocks per call, so one call stays small.
            let to = final_head.min(from.saturating_add(4_999));
            let events = pc.lane.chain.paid_between(pc.batcher, from, to).await?;
            let mut alerts = Vec::new();
            for (e, tx) in events {
                let batch = e.batch_id.to_string();
                let pos =
                    i64::try_from(u64::try_from(e.index).unwrap_or(u64::MAX)).unwrap_or(i64::MAX);
                let known: Option<(String, String, String, String)> = self
                    .store
                    .conn()
                    .query_row(
                        "SELECT id, recipient, amount, state FROM payout WHERE batch_id = ?1 AND batch_pos = ?2",
                        params![batch, pos],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()?;
                let tx = tx.map(|h| h.to_string()).unwrap_or_default();
                match known {
                    None => alerts.push((
                        "unknown_payout",
                        format!(
                            "batch {batch} item {} paid {} to {} in {tx}: not in the store",
                            e.index, e.amount, e.to
                        ),
                    )),
                    Some((id, to, amount, _))
                        if to != e.to.to_checksum(None) || amount != e.amount.to_string() =>
                    {
                        alerts.push((
                            "payout_mismatch",
                            format!(
                                "{id}: chain paid {} to {}, store says {amount} to {to} ({tx})",
                                e.amount, e.to
                            ),
                        ));
                    }
                    Some((id, _, _, state))
                        if !matches!(
                            PayoutState::parse(&state),
                            Some(
                                PayoutState::Submitted
                                    | PayoutState::Confirmed
                                    | PayoutState::Final
                            )
                        ) =>
                    {
                        alerts.push((
                            "paid_but_not_settled",
                            format!("{id}: paid on chain in {tx} while the store says {state}"),
                        ));
                    }
                    Some(_) => {}
                }
            }
            new += self.record_reconciled(chain, &chain_id.to_string(), &alerts, to)?;
        }
        Ok(new)
    }

    /// The next block to reconcile on the chain of governor key `key`.
    fn reconcile_from(&self, key: i64) -> Result<u64> {
        let from: i64 = self
            .store
            .conn()
            .query_row(
                "SELECT next_block FROM reconcile_cursor WHERE chain_id = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        Ok(u64::try_from(from).unwrap_or(0))
    }

    /// Records `alerts` (each once) and moves the cursor past block `upto`,
    /// in one transaction; how many alerts are new.
    fn record_reconciled(
        &self,
        key: i64,
        chain: &str,
        alerts: &[(&str, String)],
        upto: u64,
    ) -> Result<usize> {
        let mut new = 0;
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        for (kind, detail) in alerts {
            let n = t.execute(
                "INSERT OR IGNORE INTO alert (kind, chain_id, detail, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![kind, key, detail, now_ms()],
            )?;
            if n == 1 {
                tracing::error!(
                    kind,
                    chain,
                    detail,
                    "reconciliation: store and chain differ"
                );
                new += 1;
            }
        }
        t.execute(
            "INSERT INTO reconcile_cursor (chain_id, next_block) VALUES (?1, ?2)
             ON CONFLICT (chain_id) DO UPDATE SET next_block = excluded.next_block",
            params![
                key,
                i64::try_from(upto.saturating_add(1)).unwrap_or(i64::MAX)
            ],
        )?;
        t.commit()?;
        Ok(new)
    }
}
