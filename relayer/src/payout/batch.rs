//! Batches: flushing routed items into signed `PayoutBatcher.execute`
//! calls on the lane, then following them to finality item by item.

// The parent module's types and imports; these are more of its methods.
use super::*;

impl Payouts {
    /// routed items -> batches, per (chain, token), when full or old enough.
    pub(super) fn flush(&self) -> Result<()> {
        let groups: Vec<(i64, String, i64, i64)> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                "SELECT chain_id, token, COUNT(*), MIN(updated_ms) FROM payout WHERE state = 'routed' GROUP BY chain_id, token",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let now = now_ms();
        for (chain, token, count, oldest) in groups {
            let full = usize::try_from(count).unwrap_or(usize::MAX) >= self.policy.max_items;
            let old = now.saturating_sub(oldest)
                >= i64::try_from(self.policy.max_age_ms).unwrap_or(i64::MAX);
            if !(full || old) {
                continue;
            }
            let mut remaining = count;
            while remaining > 0 {
                let take = remaining.min(i64::try_from(self.policy.max_items).unwrap_or(i64::MAX));
                self.write_batch(chain, &token, take)?;
                remaining -= take;
            }
        }
        Ok(())
    }

    /// Writes one batch of up to `take` routed items (one SQLite
    /// transaction): batch row with id and deadline, items -> batched.
    fn write_batch(&self, chain: i64, token: &str, take: i64) -> Result<()> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let ids: Vec<String> = {
            let mut stmt = t.prepare(
                "SELECT id FROM payout WHERE state = 'routed' AND chain_id = ?1 AND token = ?2 ORDER BY seq LIMIT ?3",
            )?;
            stmt.query_map(params![chain, token, take], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        if ids.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let batch =
            keccak256(format!("switchyard/batch/{chain}/{}/{now}", ids.join(","))).to_string();
        let deadline = switchyard_core::now_ms() / 1000 + self.policy.ttl_s;
        t.execute(
            "INSERT INTO payout_batch (id, chain_id, token, deadline, state, items, created_ms) VALUES (?1, ?2, ?3, ?4, 'written', ?5, ?6)",
            params![batch, chain, token, i64::try_from(deadline).unwrap_or(i64::MAX), i64::try_from(ids.len()).unwrap_or(i64::MAX), now],
        )?;
        for (pos, id) in ids.iter().enumerate() {
            t.execute(
                "UPDATE payout SET state = 'batched', batch_id = ?1, batch_pos = ?2, updated_ms = ?3 WHERE id = ?4",
                params![batch, i64::try_from(pos).unwrap_or(i64::MAX), now, id],
            )?;
        }
        t.commit()?;
        tracing::info!(batch = %batch, chain, items = ids.len(), "payout batch written");
        self.at("written", &batch);
        Ok(())
    }

    /// Written batches -> signed and reserved on their lane.
    pub(super) fn submit_batches(&self) -> Result<()> {
        let written: Vec<(String, i64, String, i64)> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                "SELECT id, chain_id, token, deadline FROM payout_batch WHERE state = 'written' ORDER BY created_ms",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        for (batch, chain, token, deadline) in written {
            let chain_id = u64::try_from(chain).map_err(|_| Error::Corrupt("chain".into()))?;
            let pc = self
                .chains
                .get(&chain_id)
                .ok_or_else(|| Error::Config(format!("no payout lane on chain id {chain_id}")))?;
            let items: Vec<(String, String, String)> = {
                let conn = self.store.conn();
                let mut stmt = conn.prepare(
                    "SELECT recipient, amount, finality FROM payout WHERE batch_id = ?1 ORDER BY batch_pos",
                )?;
                stmt.query_map(params![batch], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut payouts = Vec::with_capacity(items.len());
            let mut finality = Finality::Blocks { blocks: 1 };
            for (to, amount, f) in &items {
                payouts.push(Payout {
                    to: to.parse().map_err(|_| Error::Corrupt("recipient".into()))?,
                    amount: U256::from_str_radix(amount, 10)
                        .map_err(|_| Error::Corrupt("amount".into()))?,
                });
                let f: Finality =
                    serde_json::from_str(f).map_err(|e| Error::Corrupt(e.to_string()))?;
                finality = stricter(finality, f);
            }
            let id: B256 = batch
                .parse()
                .map_err(|_| Error::Corrupt("batch id".into()))?;
            let pb = PayoutBatch {
                batchId: id,
                token: token.parse().map_err(|_| Error::Corrupt("token".into()))?,
                payouts,
                deadline: u64::try_from(deadline).unwrap_or(0),
            };
            self.signer
                .check_chain("SWITCHYARD_SIGNER_KEY", chain_id)
                .map_err(|e| Error::Config(e.to_string()))?;
            let digest = payout_batch_digest(&pb, &domain(chain_id, pc.batcher));
            let sig = self
                .signer
                .sign_digest(&digest)
                .map_err(|e| Error::Config(e.to_string()))?;
            let data = execute_call(&pb, vec![self.signer.address()], vec![sig.to_vec()]);
            pc.lane.lane.reserve(
                &batch_intent(&batch),
                &Call {
                    to: pc.batcher,
                    data,
                    value: U256::ZERO,
                    gas_limit: None,
                },
                finality,
            )?;
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            t.execute(
                "UPDATE payout_batch SET state = 'submitted' WHERE id = ?1",
                params![batch],
            )?;
            t.execute(
                "UPDATE payout SET state = 'submitted', updated_ms = ?1 WHERE batch_id = ?2 AND state = 'batched'",
                params![now_ms(), batch],
            )?;
            t.commit()?;
            self.at("submitted", &batch);
        }
        Ok(())
    }

    /// Submitted batches: confirmations, finality, per-item check of the
    /// `Paid` events.
    pub(super) async fn follow(&self) -> Result<()> {
        let open: Vec<(String, i64)> = {
            let conn = self.store.conn();
            let mut stmt =
                conn.prepare("SELECT id, chain_id FROM payout_batch WHERE state = 'submitted'")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        for (batch, chain) in open {
            let chain_id = u64::try_from(chain).map_err(|_| Error::Corrupt("chain".into()))?;
            let Some(pc) = self.chains.get(&chain_id) else {
                continue;
            };
            let Some(rec) = pc.lane.lane.get(&batch_intent(&batch))? else {
                continue;
            };
            match rec.state {
                TxState::Included => {
                    self.set_items(
                        "batch_id = ?4 AND state = 'submitted'",
                        "confirmed",
                        None,
                        &batch,
                    )?;
                }
                TxState::Final if rec.succeeded() => {
                    self.settle(pc, &batch, rec.hash).await?;
                }
                TxState::Final => {
                    let id: B256 = batch
                        .parse()
                        .map_err(|_| Error::Corrupt("batch id".into()))?;
                    // A cancelled call whose batch the contract already
                    // executed was paid by an earlier transaction.
                    if pc.lane.chain.executed(pc.batcher, id).await? {
                        self.settle(pc, &batch, None).await?;
                        continue;
                    }
                    let why = rec
                        .cancelled
                        .clone()
                        .map(|w| format!("batch not sent: {w}"))
                        .unwrap_or_else(|| "batch transaction reverted".into());
                    self.finish_batch(&batch, "failed", Some(&why))?;
                }
                TxState::Sent | TxState::Signed => {
                    // A reorg can take an included batch back to sent.
                    self.set_items(
                        "batch_id = ?4 AND state = 'confirmed'",
                        "submitted",
                        None,
                        &batch,
                    )?;
                }
                TxState::Reserved => {}
            }
        }
        Ok(())
    }

    async fn settle(&self, pc: &PayoutChain, batch: &str, tx: Option<B256>) -> Result<()> {
        let Some(tx) = tx else {
            return self.finish_batch(batch, "final", None);
        };
        let paid = pc.lane.chain.paid_in(tx, pc.batcher).await?;
        let items: Vec<(String, i64, String, String)> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                "SELECT id, batch_pos, recipient, amount FROM payout WHERE batch_id = ?1 ORDER BY batch_pos",
            )?;
            stmt.query_map(params![batch], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let now = now_ms();
        for (id, pos, to, amount) in items {
            let ok = paid.iter().any(|e| {
                e.index == U256::from(u64::try_from(pos).unwrap_or(u64::MAX))
                    && e.to.to_checksum(None) == to
                    && e.amount.to_string() == amount
            });
            let (state, reason) = if ok {
                ("final", None)
            } else {
                (
                    "failed",
                    Some("no matching Paid event in the batch receipt"),
                )
            };
            t.execute(
                "UPDATE payout SET state = ?1, reason = ?2, updated_ms = ?3 WHERE id = ?4",
                params![state, reason, now, id],
            )?;
        }
        t.execute(
            "UPDATE payout_batch SET state = 'final' WHERE id = ?1",
            params![batch],
        )?;
        t.commit()?;
        Ok(())
    }

    fn finish_batch(&self, batch: &str, state: &str, reason: Option<&str>) -> Result<()> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        t.execute(
            "UPDATE payout SET state = ?1, reason = ?2, updated_ms = ?3 WHERE batch_id = ?4",
            params![state, reason, now_ms(), batch],
        )?;
        t.execute(
            "UPDATE payout_batch SET state = ?1 WHERE id = ?2",
            params![state, batch],
        )?;
        t.commit()?;
        Ok(())
    }
}

/// The stricter of two finality rules (more blocks; a tag beats blocks).
fn stricter(a: Finality, b: Finality) -> Finality {
    match (a, b) {
        (Finality::Blocks { blocks: x }, Finality::Blocks { blocks: y }) => {
            Finality::Blocks { blocks: x.max(y) }
        }
        (Finality::Blocks { .. }, other) => other,
        (other, _) => other,
    }
}
