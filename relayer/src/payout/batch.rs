//! Batches: flushing routed items into signed `PayoutBatcher.execute`
//! calls on the lane, then following each batch id on chain until it is
//! settled or proven dead.
//!
//! ```text
//! written    batch row (id, deadline) and its items, one SQLite transaction
//! submitted  its execute call reserved on the lane
//! final      the batch id was executed (by us or by anyone): each item is
//!            settled from that transaction's own Paid events, once the
//!            block holding it is canonical and at the batch's depth
//! voiding    our transaction failed and nobody executed the batch: the
//!            items the token refuses were found (one simulated transfer
//!            each) and a signed cancel(batchId) is reserved on the lane
//! void       the cancellation is final, or the deadline passed at a
//!            finalized block with the id unused: the batch can never
//!            execute. Refused items fail with the token's reason; every
//!            other item goes back to the queue for a new batch.
//! ```
//!
//! A batch's signed calldata has been shown to nodes (simulation,
//! broadcast) and anyone may submit it until its deadline, so an item is
//! never failed or paid again while its batch id can still execute: only
//! a final cancellation or an expired deadline at a finalized block makes
//! that so. How the id was used is always read from the contract's logs,
//! never inferred from our own transaction's fate.

// The parent module's types and imports; these are more of its methods.
use super::*;
use crate::states::sql::PAYOUT_HELD;
use crate::states::sql::{
    BATCH_FINAL, BATCH_SUBMITTED, BATCH_VOID, BATCH_VOIDING, BATCH_WRITTEN, PAYOUT_BATCHED,
    PAYOUT_CONFIRMED, PAYOUT_FAILED, PAYOUT_QUEUED, PAYOUT_ROUTED, PAYOUT_SUBMITTED,
};
use switchyard_chains::evm::attest::calldata;
use switchyard_chains::evm::contracts::{BatchUse, transfer_call};
use switchyard_core::chain::ChainReader;

/// A batch as stored.
struct BatchRow {
    id: String,
    chain_id: u64,
    token: String,
    deadline: u64,
    from_block: u64,
}

impl BatchRow {
    /// The batch id, the contract's fence.
    fn batch_id(&self) -> Result<B256> {
        self.id
            .parse()
            .map_err(|_| Error::Corrupt("batch id".into()))
    }

    /// The batch's token.
    fn token(&self) -> Result<EvmAddress> {
        self.token
            .parse()
            .map_err(|_| Error::Corrupt("token".into()))
    }
}

fn batch_rows(t: &rusqlite::Connection, state: BatchState) -> Result<Vec<BatchRow>> {
    let mut stmt = t.prepare(
        "SELECT id, chain_id, token, deadline, from_block FROM payout_batch WHERE state = ?1 AND chain_id != 0 ORDER BY created_ms",
    )?;
    let rows = stmt
        .query_map(params![state], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, chain, token, deadline, from)| {
            Ok(BatchRow {
                id,
                chain_id: u64::try_from(chain).map_err(|_| Error::Corrupt("chain".into()))?,
                token,
                deadline: u64::try_from(deadline).unwrap_or(0),
                from_block: u64::try_from(from).unwrap_or(0),
            })
        })
        .collect()
}

/// An ordinary account no token has reason to refuse (no key is known for
/// it; only ever used in simulations): the control recipient that tells a
/// refusal of one recipient from a refusal of every transfer.
pub(super) fn control_recipient() -> EvmAddress {
    EvmAddress::from_word(keccak256("switchyard/control-recipient"))
}

/// Cancellations tried per batch before it waits for its deadline.
const MAX_CANCELS: u32 = 5;

fn cancel_intent(batch: &str, n: u32) -> String {
    format!("payout-cancel:{batch}:{n}")
}

impl Payouts {
    /// routed items -> batches, per (chain, token), when full or old enough.
    pub(super) fn flush(&self) -> Result<()> {
        let groups: Vec<(i64, String, i64, i64)> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                &format!("SELECT chain_id, token, COUNT(*), MIN(updated_ms) FROM payout WHERE state = {PAYOUT_ROUTED} AND chain_id != 0 GROUP BY chain_id, token"),
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
                &format!("SELECT id FROM payout WHERE state = {PAYOUT_ROUTED} AND chain_id = ?1 AND token = ?2 ORDER BY seq LIMIT ?3"),
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
            &format!("INSERT INTO payout_batch (id, chain_id, token, deadline, state, items, created_ms) VALUES (?1, ?2, ?3, ?4, {BATCH_WRITTEN}, ?5, ?6)"),
            params![batch, chain, token, i64::try_from(deadline).unwrap_or(i64::MAX), i64::try_from(ids.len()).unwrap_or(i64::MAX), now],
        )?;
        for (pos, id) in ids.iter().enumerate() {
            t.execute(
                &format!("UPDATE payout SET state = {PAYOUT_BATCHED}, batch_id = ?1, batch_pos = ?2, updated_ms = ?3 WHERE id = ?4"),
                params![batch, i64::try_from(pos).unwrap_or(i64::MAX), now, id],
            )?;
        }
        t.commit()?;
        tracing::info!(batch = %batch, chain, items = ids.len(), "payout batch written");
        self.at("written", &batch);
        Ok(())
    }

    fn chain(&self, chain_id: u64) -> Result<&PayoutChain> {
        self.chains
            .get(&chain_id)
            .ok_or_else(|| Error::Config(format!("no payout lane on chain id {chain_id}")))
    }

    /// Items of `batch` in order: (id, recipient, amount, finality rule).
    fn batch_items(&self, batch: &str) -> Result<Vec<(String, String, String, String)>> {
        self.batch_items_with(batch, "finality")
    }

    /// Items of `batch` in order: (id, recipient, amount, `column`).
    pub(super) fn batch_items_with<T: rusqlite::types::FromSql>(
        &self,
        batch: &str,
        column: &str,
    ) -> Result<Vec<(String, String, String, T)>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT id, recipient, amount, {column} FROM payout WHERE batch_id = ?1 ORDER BY batch_pos"
        ))?;
        Ok(stmt
            .query_map(params![batch], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The batch's finality: the strictest rule of its items.
    fn batch_rule(&self, batch: &str) -> Result<Finality> {
        let mut rule = Finality::Blocks { blocks: 1 };
        for (_, _, _, f) in self.batch_items(batch)? {
            let f: Finality =
                serde_json::from_str(&f).map_err(|e| Error::Corrupt(e.to_string()))?;
            rule = rule.stricter(f);
        }
        Ok(rule)
    }

    /// Written batches -> signed and reserved on their lane. Each batch on
    /// its own: one that cannot be submitted (a chain that cannot be read,
    /// a config problem) is recorded and retried, and the others go on.
    pub(super) async fn submit_batches(&self) -> Result<()> {
        let written = batch_rows(&self.store.conn(), BatchState::Written)?;
        for b in written {
            if let Err(e) = self.submit_batch(&b).await {
                self.chain_failed(b.chain_id, &format!("batch {}: {e}", b.id));
            }
        }
        Ok(())
    }

    async fn submit_batch(&self, b: &BatchRow) -> Result<()> {
        let pc = self.chain(b.chain_id)?;
        if pc.lane.lane.get(&batch_intent(&b.id))?.is_none() {
            if switchyard_core::now_ms() / 1000 >= b.deadline {
                // Never reserved (the signer set did not sign it in time)
                // and past its deadline: once that is so at a final block
                // with the id unused, its items go to a new batch.
                return self.expire_if_dead(pc, b).await;
            }
            if !self.sign_and_reserve(pc, b).await? {
                return Ok(());
            }
        }
        self.at("reserved", &b.id);
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        // Only if still written: an operator may have given it up meanwhile.
        let n = t.execute(
            &format!("UPDATE payout_batch SET state = {BATCH_SUBMITTED} WHERE id = ?1 AND state = {BATCH_WRITTEN}"),
            params![b.id],
        )?;
        if n == 1 {
            t.execute(
                &format!("UPDATE payout SET state = {PAYOUT_SUBMITTED}, reason = NULL, updated_ms = ?1 WHERE batch_id = ?2 AND state IN ({PAYOUT_BATCHED}, {PAYOUT_HELD})"),
                params![now_ms(), b.id],
            )?;
        }
        t.commit()?;
        drop(conn);
        self.at("submitted", &b.id);
        Ok(())
    }

    /// Asks the signer set for the written batch and reserves its call;
    /// `false` while too few sign (its items held, nothing reserved).
    async fn sign_and_reserve(&self, pc: &PayoutChain, b: &BatchRow) -> Result<bool> {
        // Where a search for this batch id's use can start: it cannot have
        // been used before it was signed.
        let from = pc.lane.chain.head().await?.number;
        let items = self.batch_items(&b.id)?;
        let mut payouts = Vec::with_capacity(items.len());
        for (_, to, amount, _) in &items {
            payouts.push(PayoutItem {
                to: to.parse().map_err(|_| Error::Corrupt("recipient".into()))?,
                amount: U256::from_str_radix(amount, 10)
                    .map_err(|_| Error::Corrupt("amount".into()))?,
            });
        }
        let finality = self.batch_rule(&b.id)?;
        let what = Attestation::PayoutBatch {
            chain_id: b.chain_id,
            batcher: pc.batcher,
            batch_id: b.batch_id()?,
            token: b.token()?,
            payouts,
            deadline: b.deadline,
        };
        // The batch (id, items, deadline) is written: asking again after a
        // crash asks for the very same message, which a co-signer answers
        // with the signature it recorded.
        let sigs = match self.attester.attest(&what).await {
            Ok(s) => s,
            Err(e) if e.is_retryable() => {
                self.hold_for_signatures(&b.id, &e.to_string())?;
                return Ok(false);
            }
            Err(e) => return Err(Error::Config(e.to_string())),
        };
        let data = calldata(&what, &sigs);
        // Written once, before the call can exist anywhere: a crash after
        // the reservation must not move it past a block that used the id.
        self.store.conn().execute(
            &format!("UPDATE payout_batch SET from_block = ?1 WHERE id = ?2 AND state = {BATCH_WRITTEN} AND from_block = 0"),
            params![i64::try_from(from).unwrap_or(i64::MAX), b.id],
        )?;
        pc.lane.lane.reserve(
            &batch_intent(&b.id),
            &Call::contract(pc.batcher, data),
            finality,
        )?;
        Ok(true)
    }

    /// Submitted and voiding batches, each on its own: see the module docs.
    pub(super) async fn follow(&self) -> Result<()> {
        let (submitted, voiding) = {
            let conn = self.store.conn();
            (
                batch_rows(&conn, BatchState::Submitted)?,
                batch_rows(&conn, BatchState::Voiding)?,
            )
        };
        for b in submitted {
            if let Err(e) = self.follow_submitted(&b).await {
                self.chain_failed(b.chain_id, &format!("batch {}: {e}", b.id));
            }
        }
        for b in voiding {
            if let Err(e) = self.follow_voiding(&b).await {
                self.chain_failed(b.chain_id, &format!("batch {}: {e}", b.id));
            }
        }
        Ok(())
    }

    /// How the batch id was used, if it was: decided from the contract's
    /// state at the head (`executed(id)`), never from a log search that came
    /// back empty. The using transaction is our own (its receipt), or found
    /// in the contract's logs; once found it is remembered on the batch
    /// and only checked to still be canonical (forgotten, and looked for
    /// again, if its block left the chain).
    async fn batch_use(&self, pc: &PayoutChain, b: &BatchRow) -> Result<Option<BatchUse>> {
        let chain = &pc.lane.chain;
        let id = b.batch_id()?;
        let known: Option<(Vec<u8>, i64, Vec<u8>)> = self
            .store
            .conn()
            .query_row(
                "SELECT used_tx, used_block, used_hash FROM payout_batch WHERE id = ?1 AND used_tx IS NOT NULL",
                params![b.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((tx, number, hash)) = known {
            let number = u64::try_from(number).map_err(|_| Error::Corrupt("used block".into()))?;
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| Error::Corrupt("used hash".into()))?;
            if chain
                .block_at(number)
                .await?
                .is_some_and(|blk| blk.hash == hash)
            {
                let tx =
                    B256::try_from(tx.as_slice()).map_err(|_| Error::Corrupt("used tx".into()))?;
                if let Some(u) = chain.batch_use_in(tx, pc.batcher, id).await?
                    && u.block.hash == hash
                {
                    return Ok(Some(u));
                }
            }
            self.store.conn().execute(
                "UPDATE payout_batch SET used_tx = NULL, used_block = NULL, used_hash = NULL WHERE id = ?1",
                params![b.id],
            )?;
        }
        if !chain.executed(pc.batcher, id).await? {
            return Ok(None);
        }
        // Used: by one of our own transactions (the execute, a cancel)?
        let mut ours: Vec<B256> = Vec::new();
        if let Some(rec) = pc.lane.lane.get(&batch_intent(&b.id))?
            && let Some(h) = rec.hash
        {
            ours.push(h);
        }
        let mut n = 0;
        while let Some(rec) = pc.lane.lane.get(&cancel_intent(&b.id, n))? {
            if let Some(h) = rec.hash {
                ours.push(h);
            }
            n += 1;
        }
        let mut found = None;
        for h in ours {
            if let Ok(Some(u)) = chain.batch_use_in(h, pc.batcher, id).await {
                found = Some(u);
                break;
            }
        }
        if found.is_none() {
            let head = chain.head().await?.number;
            found = chain
                .find_batch_use(pc.batcher, id, b.from_block, head)
                .await?;
        }
        let Some(u) = found else {
            return Err(Error::Chain(switchyard_core::chain::ChainError::Transport(
                format!(
                    "batch {} is used on chain but its transaction is not indexed yet",
                    b.id
                ),
            )));
        };
        self.store.conn().execute(
            "UPDATE payout_batch SET used_tx = ?1, used_block = ?2, used_hash = ?3 WHERE id = ?4",
            params![
                u.tx.to_vec(),
                i64::try_from(u.block.number).unwrap_or(i64::MAX),
                u.block.hash.to_vec(),
                b.id
            ],
        )?;
        Ok(Some(u))
    }

    async fn follow_submitted(&self, b: &BatchRow) -> Result<()> {
        let Some(pc) = self.chains.get(&b.chain_id) else {
            return Ok(());
        };
        let Some(rec) = pc.lane.lane.get(&batch_intent(&b.id))? else {
            return Ok(());
        };
        match rec.state {
            // Our transaction executed in a block not yet deep enough (a
            // reverted one says nothing about the batch id: wait for the
            // chain's record of it).
            TxState::Included if !rec.reverted => {
                self.move_batch_items(&b.id, PayoutState::Submitted, PayoutState::Confirmed)?;
            }
            TxState::Included => {}
            TxState::Final => {
                // Whatever our transaction did, the contract's logs say how
                // the batch id was used (maybe by someone else first).
                match self.batch_use(pc, b).await? {
                    Some(u) => self.settle_use(pc, b, &u).await?,
                    None if rec.succeeded() => {
                        // Our receipt says it executed; the logs of the
                        // node we asked are not there yet.
                        return Err(Error::Chain(switchyard_core::chain::ChainError::Transport(
                            format!("batch {} executed but its logs are not visible yet", b.id),
                        )));
                    }
                    None => {
                        let why = rec
                            .cancelled
                            .clone()
                            .map(|w| format!("batch not sent: {w}"))
                            .unwrap_or_else(|| "batch transaction reverted".into());
                        self.start_voiding(pc, b, &why).await?;
                    }
                }
            }
            TxState::Sent | TxState::Signed => {
                // A reorg can take an included batch back to sent.
                self.move_batch_items(&b.id, PayoutState::Confirmed, PayoutState::Submitted)?;
                self.expire_if_dead(pc, b).await?;
            }
            TxState::Reserved => self.expire_if_dead(pc, b).await?,
        }
        Ok(())
    }

    /// A batch whose deadline passed at a block final under its own rule
    /// (and the chain's), with the contract saying at the head that the id
    /// is unused, can never execute: void, no cancellation needed.
    async fn expire_if_dead(&self, pc: &PayoutChain, b: &BatchRow) -> Result<()> {
        if switchyard_core::now_ms() / 1000 <= b.deadline {
            return Ok(());
        }
        let chain = &pc.lane.chain;
        let head = chain.head().await?;
        let rule = self.batch_rule(&b.id)?.stricter(chain.finality());
        let at = chain.final_under(rule, &head).await?;
        let Some(fin) = chain.block_at(at).await? else {
            return Ok(());
        };
        if fin.timestamp_s <= b.deadline {
            return Ok(());
        }
        let id = b.batch_id()?;
        // Unused at the head, past the deadline at a final block: no block
        // can ever use it (later ones are past the deadline, earlier ones
        // are final and, by the head's state, did not).
        if chain.executed(pc.batcher, id).await? {
            return Ok(());
        }
        self.void(
            b,
            &format!(
                "its deadline {} passed at final block {} with the id unused",
                b.deadline, fin.number
            ),
        )
    }

    /// Settles a batch from the transaction that used its id, once that
    /// transaction's block is canonical and deep enough.
    async fn settle_use(&self, pc: &PayoutChain, b: &BatchRow, u: &BatchUse) -> Result<()> {
        let chain = &pc.lane.chain;
        let head = chain.head().await?;
        let canonical = chain.block_at(u.block.number).await?;
        if canonical.as_ref().map(|c| c.hash) != Some(u.block.hash) {
            // Reorged away: the next step looks again.
            return Ok(());
        }
        let rule = self.batch_rule(&b.id)?.stricter(chain.finality());
        if chain.final_under(rule, &head).await? < u.block.number {
            if !u.cancelled {
                let mut conn = self.store.conn();
                let t = conn.transaction()?;
                t.execute(
                    &format!("UPDATE payout SET state = {PAYOUT_CONFIRMED}, paid_tx = ?1, paid_block = ?2, updated_ms = ?3 WHERE batch_id = ?4 AND state IN ({PAYOUT_SUBMITTED}, {PAYOUT_CONFIRMED}) AND (state != {PAYOUT_CONFIRMED} OR paid_tx IS NOT ?1)"),
                    params![u.tx.to_string(), i64::try_from(u.block.number).unwrap_or(i64::MAX), now_ms(), b.id],
                )?;
                t.commit()?;
            }
            return Ok(());
        }
        if u.cancelled {
            return self.void(b, "cancelled on chain");
        }
        let items = self.batch_items(&b.id)?;
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let now = now_ms();
        let block = i64::try_from(u.block.number).unwrap_or(i64::MAX);
        for (pos, (id, to, amount, _)) in items.iter().enumerate() {
            let ok = u.paid.iter().any(|e| {
                e.index == U256::from(pos)
                    && e.to.to_checksum(None) == *to
                    && e.amount.to_string() == *amount
            });
            let (state, reason) = if ok {
                (PayoutState::Final, None)
            } else {
                let why = format!(
                    "batch {} was executed in {} without a matching Paid event for this item",
                    b.id, u.tx
                );
                t.execute(
                    "INSERT OR IGNORE INTO alert (kind, chain_id, detail, created_ms) VALUES ('payout_mismatch', ?1, ?2, ?3)",
                    params![i64::try_from(b.chain_id).unwrap_or(i64::MAX), format!("{id}: {why}"), now],
                )?;
                (PayoutState::Failed, Some(why))
            };
            t.execute(
                "UPDATE payout SET state = ?1, reason = ?2, paid_tx = ?3, paid_block = ?4, updated_ms = ?5 WHERE id = ?6",
                params![state, reason, u.tx.to_string(), block, now, id],
            )?;
        }
        t.execute(
            &format!("UPDATE payout_batch SET state = {BATCH_FINAL} WHERE id = ?1"),
            params![b.id],
        )?;
        t.commit()?;
        Ok(())
    }

    /// Our transaction failed and the id is unused: find the items the
    /// token refuses *for their recipient* (a simulated transfer out of the
    /// batcher fails for it and succeeds for an ordinary account), write
    /// them and `voiding` down, then reserve the signed cancellation. A
    /// refusal that is not about the recipient (the float is short, the
    /// batcher is frozen, the token is paused) fails nobody: the chain's
    /// payouts are held until the token lets the batcher pay again.
    async fn start_voiding(&self, pc: &PayoutChain, b: &BatchRow, why: &str) -> Result<()> {
        use switchyard_core::chain::ChainError;
        let token = b.token()?;
        let control = control_recipient();
        let chain = &pc.lane.chain;
        let mut offenders: Vec<(String, String)> = Vec::new();
        let mut batch_wide: Option<String> = None;
        for (id, to, amount, _) in self.batch_items(&b.id)? {
            let to: EvmAddress = to.parse().map_err(|_| Error::Corrupt("recipient".into()))?;
            let amount =
                U256::from_str_radix(&amount, 10).map_err(|_| Error::Corrupt("amount".into()))?;
            match chain
                .call_as(pc.batcher, token, transfer_call(to, amount))
                .await
            {
                Ok(_) => {}
                Err(ChainError::WouldRevert(r)) => {
                    match chain
                        .call_as(pc.batcher, token, transfer_call(control, amount))
                        .await
                    {
                        Ok(_) => offenders.push((id, r)),
                        Err(ChainError::WouldRevert(all)) => {
                            batch_wide.get_or_insert(all);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(r) = &batch_wide {
            self.hold_batcher(b.chain_id, &b.token, r);
        }
        tracing::warn!(batch = %b.id, reason = why, refused = offenders.len(), "payout batch failed; cancelling it on chain");
        self.store.conn().execute(
            &format!("UPDATE payout_batch SET state = {BATCH_VOIDING}, reason = ?1, offenders = ?2 WHERE id = ?3 AND state IN ({BATCH_SUBMITTED}, {BATCH_VOIDING})"),
            params![
                why,
                serde_json::to_string(&offenders).map_err(|e| Error::Corrupt(e.to_string()))?,
                b.id
            ],
        )?;
        self.reserve_cancel(pc, b, 0).await
    }

    async fn reserve_cancel(&self, pc: &PayoutChain, b: &BatchRow, n: u32) -> Result<()> {
        let what = Attestation::CancelBatch {
            chain_id: b.chain_id,
            batcher: pc.batcher,
            batch_id: b.batch_id()?,
        };
        let sigs = self
            .attester
            .attest(&what)
            .await
            .map_err(|e| Error::Config(format!("signing cancel(batch {}): {e}", b.id)))?;
        pc.lane.lane.reserve(
            &cancel_intent(&b.id, n),
            &Call::contract(pc.batcher, calldata(&what, &sigs)),
            self.batch_rule(&b.id)?,
        )?;
        Ok(())
    }

    /// The signer set cannot sign the batch now: its items are `held` with
    /// the reason (still in the batch, which is asked for again each step).
    fn hold_for_signatures(&self, batch: &str, why: &str) -> Result<()> {
        let reason = format!("waiting for signatures: {why}");
        let n = self.store.conn().execute(
            &format!("UPDATE payout SET state = {PAYOUT_HELD}, reason = ?1, updated_ms = ?2 WHERE batch_id = ?3 AND state IN ({PAYOUT_BATCHED}, {PAYOUT_HELD}) AND reason IS NOT ?1"),
            params![reason, now_ms(), batch],
        )?;
        if n > 0 {
            tracing::warn!(batch, why, "payout batch held: not enough signatures");
        }
        Ok(())
    }

    async fn follow_voiding(&self, b: &BatchRow) -> Result<()> {
        let Some(pc) = self.chains.get(&b.chain_id) else {
            return Ok(());
        };
        if let Some(u) = self.batch_use(pc, b).await? {
            // Cancelled (ours, at depth: void), or executed by someone
            // after all (settled from its events).
            return self.settle_use(pc, b, &u).await;
        }
        // The latest cancellation we reserved.
        let mut n = 0;
        let mut last = None;
        while let Some(rec) = pc.lane.lane.get(&cancel_intent(&b.id, n))? {
            last = Some(rec);
            n += 1;
        }
        match last {
            // Written `voiding`, then crashed before the reservation.
            None => self.reserve_cancel(pc, b, 0).await,
            Some(rec) if rec.failed() => {
                // Refused and the id is still unused (the contract's state
                // says so, so not because it was executed): dead by
                // deadline, or try again, a few times.
                self.expire_if_dead(pc, b).await?;
                if self.batch_state(&b.id)? != Some(BatchState::Voiding) {
                    return Ok(());
                }
                if n < MAX_CANCELS {
                    tracing::error!(batch = %b.id, why = rec.cancelled.as_deref().unwrap_or("it did not execute"), "cancellation failed; reserving another");
                    return self.reserve_cancel(pc, b, n).await;
                }
                Err(Error::Chain(switchyard_core::chain::ChainError::Rpc {
                    code: 0,
                    message: format!(
                        "batch {} could not be cancelled in {MAX_CANCELS} tries (last: {}); it becomes void once its deadline {} passes at a final block",
                        b.id,
                        rec.cancelled.as_deref().unwrap_or("it did not execute"),
                        b.deadline
                    ),
                }))
            }
            Some(_) => self.expire_if_dead(pc, b).await,
        }
    }

    fn batch_state(&self, batch: &str) -> Result<Option<BatchState>> {
        Ok(self
            .store
            .conn()
            .query_row(
                "SELECT state FROM payout_batch WHERE id = ?1",
                params![batch],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The batch can never execute: refused items fail with the token's
    /// reason, the others go back to the queue; one SQLite transaction.
    fn void(&self, b: &BatchRow, why: &str) -> Result<()> {
        let offenders: Vec<(String, String)> = {
            let text: Option<String> = self.store.conn().query_row(
                "SELECT offenders FROM payout_batch WHERE id = ?1",
                params![b.id],
                |r| r.get(0),
            )?;
            text.map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| Error::Corrupt(e.to_string()))?
                .unwrap_or_default()
        };
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let now = now_ms();
        for (id, reason) in &offenders {
            t.execute(
                &format!("UPDATE payout SET state = {PAYOUT_FAILED}, reason = ?1, updated_ms = ?2 WHERE id = ?3 AND batch_id = ?4"),
                params![format!("the token refuses this transfer: {reason}"), now, id, b.id],
            )?;
        }
        t.execute(
            &format!("UPDATE payout SET state = {PAYOUT_QUEUED}, batch_id = NULL, batch_pos = NULL, paid_tx = NULL, paid_block = NULL, reason = ?1, voids = voids + 1, updated_ms = ?2
             WHERE batch_id = ?3 AND state IN ({PAYOUT_BATCHED}, {PAYOUT_HELD}, {PAYOUT_SUBMITTED}, {PAYOUT_CONFIRMED})"),
            params![format!("batch {} can never execute ({why}); paid in a new batch", b.id), now, b.id],
        )?;
        t.execute(
            &format!("UPDATE payout_batch SET state = {BATCH_VOID}, reason = COALESCE(reason || '; ', '') || ?1 WHERE id = ?2"),
            params![why, b.id],
        )?;
        t.commit()?;
        tracing::warn!(batch = %b.id, why, refused = offenders.len(), "payout batch void");
        Ok(())
    }

    /// An operator gives up on a submitted batch: it is cancelled on chain
    /// (or settles, if it executes first) and its items are paid anew.
    /// Audited in the same transaction. `Ok(false)`: not a submitted batch
    /// (a generic-lane batch has no on-chain cancellation: the lane
    /// withdraws it itself once the chain refuses it, see `vm`).
    pub fn give_up_batch(&self, batch: &str, operator: &str, reason: &str) -> Result<bool> {
        {
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            let n = t.execute(
                &format!("UPDATE payout_batch SET state = {BATCH_VOIDING}, reason = ?1, offenders = '[]' WHERE id = ?2 AND state IN ({BATCH_WRITTEN}, {BATCH_SUBMITTED}) AND chain_id != 0"),
                params![format!("given up by {operator}: {reason}"), batch],
            )?;
            if n == 0 {
                return Ok(false);
            }
            crate::ops::Ops::append(
                &t,
                operator,
                "batch_cancel",
                &format!("batch:{batch}"),
                reason,
            )?;
            t.commit()?;
        }
        // The next step signs and reserves the cancellation
        // (`follow_voiding`), crash or not.
        Ok(true)
    }
}
