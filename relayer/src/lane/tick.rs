//! The chain-facing half of the lane: one step of every open row (see
//! the parent module's docs), and the transitions it writes.

// The parent module's types and imports; these are more of its methods.
use super::*;
use crate::states::sql::{TX_INCLUDED, TX_RESERVED, TX_SENT, TX_SIGNED};

/// Who used a row's nonce, as far as a finalized block can tell.
enum Fence {
    /// Not used as of the finalized head (it may be in a newer block):
    /// nothing is proven yet.
    Open,
    /// One of the row's attempts used it, in this block.
    Ours(B256, BlockRef),
    /// A transaction that is none of the row's attempts but makes the same
    /// call (another process with a copy of this store sent it): the call
    /// executed; sending it again would execute it twice.
    SameCall(B256, BlockRef),
    /// Another transaction, with another call, used it: none of the row's
    /// attempts can ever be mined.
    Foreign(B256),
}

impl Lane {
    fn hook(&self, stage: Stage, id: i64) -> Result<()> {
        if let Some(h) = &self.hook {
            h(stage, &self.by_id(id)?);
        }
        Ok(())
    }

    /// Signs an attempt of `rec` at `fees`, stores it (row and attempt, one
    /// SQLite transaction) and only then broadcasts it.
    async fn attempt(
        &self,
        chain: &EvmChain,
        rec: &TxRecord,
        fees: Fees,
        gas_limit: u64,
        head: u64,
    ) -> Result<()> {
        let (to, data, value) = if rec.cancelled.is_some() {
            (self.sender, Bytes::new(), U256::ZERO)
        } else {
            (
                rec.call.to,
                Bytes::from(rec.call.data.clone()),
                rec.call.value,
            )
        };
        let tx = EvmTx {
            to,
            data,
            value,
            nonce: rec.nonce,
            gas_limit,
            max_fee_per_gas: fees.max,
            max_priority_fee_per_gas: fees.tip,
        };
        let (id, raw) = chain.sign(&tx)?;
        {
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            let now = now_ms();
            t.execute(
                "INSERT INTO attempt (tx_id, nonce, hash, raw, max_fee, tip, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![rec.id, to_i64(rec.nonce, "nonce")?, id.0, raw, fees.max.to_string(), fees.tip.to_string(), now],
            )?;
            t.execute(
                &format!("UPDATE tx SET state = {TX_SIGNED}, hash = ?1, raw = ?2, max_fee = ?3, tip = ?4, gas_limit = ?5, sent_head = ?6, updated_ms = ?7 WHERE id = ?8"),
                params![id.0, raw, fees.max.to_string(), fees.tip.to_string(), to_i64(gas_limit, "gas limit")?, to_i64(head, "head")?, now, rec.id],
            )?;
            t.commit()?;
        }
        self.hook(Stage::Signed, rec.id)?;
        match chain.broadcast(&raw).await {
            Ok(()) => {}
            // Another attempt of ours with this nonce is pooled at a higher
            // price, or the nonce is already mined: the next tick sorts out
            // which; these bytes are stored and can go out again.
            Err(e @ (ChainError::Underpriced(_) | ChainError::FenceUsed(_))) => {
                tracing::warn!(chain_id = self.chain_id, nonce = rec.nonce, error = %e, "attempt refused for now");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        self.set_state(rec.id, TxState::Sent)?;
        self.hook(Stage::Broadcast, rec.id)?;
        Ok(())
    }

    async fn market(&self, chain: &EvmChain) -> Result<(u128, u128)> {
        let f = chain.fees().await?;
        let base = u128::try_from(f.base).unwrap_or(u128::MAX);
        let tip = u128::try_from(f.priority).unwrap_or(u128::MAX);
        Ok((base, tip))
    }

    /// Gives row `id` the lane's next nonce; its old attempts stay on file.
    /// Only called once the old nonce is proven used by another
    /// transaction at a finalized block ([`Fence::Foreign`]).
    fn renonce(&self, id: i64) -> Result<()> {
        let (c, s) = self.key()?;
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        t.execute(
            &format!("UPDATE tx SET nonce = (SELECT next_nonce FROM lane WHERE chain_id = ?1 AND sender = ?2),
                state = {TX_RESERVED}, hash = NULL, raw = NULL, max_fee = NULL, tip = NULL, sent_head = NULL,
                block_number = NULL, block_hash = NULL, updated_ms = ?3 WHERE id = ?4"),
            params![c, s, now_ms(), id],
        )?;
        t.execute(
            "UPDATE tx SET fence_kind = NULL, fence_tx = NULL, fence_block = NULL, fence_hash = NULL WHERE id = ?1",
            params![id],
        )?;
        t.execute(
            "UPDATE lane SET next_nonce = next_nonce + 1 WHERE chain_id = ?1 AND sender = ?2",
            params![c, s],
        )?;
        t.commit()?;
        Ok(())
    }

    /// The first attempt of `id` found in a block.
    async fn find_included(
        &self,
        chain: &EvmChain,
        id: i64,
    ) -> Result<Option<(B256, BlockRef, bool)>> {
        for h in self.attempts(id)? {
            if let TxStatus::Included { block, success } = chain.status(&TxId(h.to_vec())).await? {
                return Ok(Some((h, block, success)));
            }
        }
        Ok(None)
    }

    /// Who used the nonce of `rec`, proven at a block final under both
    /// the row's own rule and the chain's (a larger amount's tier is
    /// stricter than the chain's base rule, and so is the proof). The
    /// consumer is looked up while recent (the lookup reads recent state)
    /// and remembered on the row; later ticks only check that its block is
    /// still canonical and, once it is final, act on it. A remembered block
    /// that left the chain is forgotten and looked up again.
    async fn fence(&self, chain: &EvmChain, rec: &TxRecord, head: &BlockRef) -> Result<Fence> {
        let remembered: Option<(String, Vec<u8>, i64, Vec<u8>)> = self
            .store
            .conn()
            .query_row(
                "SELECT fence_kind, fence_tx, fence_block, fence_hash FROM tx WHERE id = ?1 AND fence_kind IS NOT NULL",
                params![rec.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let known = match remembered {
            Some((kind, tx, number, hash)) => {
                let number = u64::try_from(number).map_err(|_| corrupt("negative fence block"))?;
                let hash: [u8; 32] = hash.try_into().map_err(|_| corrupt("bad fence hash"))?;
                let canonical = chain
                    .block_at(number)
                    .await?
                    .is_some_and(|b| b.hash == hash);
                if canonical {
                    let tx = B256::try_from(tx.as_slice()).map_err(|_| corrupt("bad fence tx"))?;
                    Some((kind, tx, number, hash))
                } else {
                    self.store.conn().execute(
                        "UPDATE tx SET fence_kind = NULL, fence_tx = NULL, fence_block = NULL, fence_hash = NULL WHERE id = ?1",
                        params![rec.id],
                    )?;
                    None
                }
            }
            None => None,
        };
        let (kind, tx, number, hash) = match known {
            Some(k) => k,
            None => {
                let Some(c) = chain.nonce_consumer(rec.nonce, head.number).await? else {
                    return Ok(Fence::Open);
                };
                let kind = self.consumer_kind(rec, &c)?;
                self.store.conn().execute(
                    "UPDATE tx SET fence_kind = ?1, fence_tx = ?2, fence_block = ?3, fence_hash = ?4 WHERE id = ?5",
                    params![kind, c.tx.to_vec(), to_i64(c.block.number, "block")?, c.block.hash.to_vec(), rec.id],
                )?;
                (kind.to_owned(), c.tx, c.block.number, c.block.hash)
            }
        };
        let rule = rec.finality.stricter(chain.finality());
        if chain.final_under(rule, head).await? < number {
            return Ok(Fence::Open);
        }
        let block = BlockRef {
            number,
            hash,
            timestamp_s: 0,
        };
        Ok(match kind.as_str() {
            "ours" => Fence::Ours(tx, block),
            "same" => Fence::SameCall(tx, block),
            _ => Fence::Foreign(tx),
        })
    }

    /// Whether transaction `c` that used `rec`'s nonce is one of its
    /// attempts (`ours`), makes its very call (`same`), or neither.
    fn consumer_kind(
        &self,
        rec: &TxRecord,
        c: &switchyard_chains::evm::Consumer,
    ) -> Result<&'static str> {
        let ours: i64 = self.store.conn().query_row(
            "SELECT COUNT(*) FROM attempt WHERE tx_id = ?1 AND hash = ?2",
            params![rec.id, c.tx.to_vec()],
            |r| r.get(0),
        )?;
        if ours > 0 {
            return Ok("ours");
        }
        // What the row would have sent: its call, or the no-op filler.
        let (to, data, value) = if rec.cancelled.is_some() {
            (self.sender, Vec::new(), U256::ZERO)
        } else {
            (rec.call.to, rec.call.data.clone(), rec.call.value)
        };
        Ok(if c.to == Some(to) && c.input == data && c.value == value {
            "same"
        } else {
            "foreign"
        })
    }

    /// The chain's nonce passed `rec`'s and no receipt of ours was found:
    /// acts on what a finalized block proves, and only on that.
    async fn nonce_passed(
        &self,
        chain: &EvmChain,
        rec: &TxRecord,
        head: &BlockRef,
        report: &mut TickReport,
    ) -> Result<()> {
        let forgiven = self.lane_row()?.forgive_below;
        match self.fence(chain, rec, head).await? {
            // Maybe ours in a block the receipt source has not seen yet,
            // maybe not: wait until a finalized block says.
            Fence::Open => Ok(()),
            Fence::SameCall(hash, block) => {
                tracing::error!(chain_id = self.chain_id, nonce = rec.nonce, tx = %hash, "another process sent this row's very call; taking its transaction as the row's");
                if rec.nonce >= forgiven {
                    self.halt(&format!(
                        "nonce {} of {} was used by {hash}, which this lane did not sign (the same call: another process with a copy of this store?)",
                        rec.nonce, self.sender
                    ))?;
                }
                self.include_mined(chain, rec.id, hash, &block, report)
                    .await
            }
            // Ours is mined; its outcome needs its receipt.
            Fence::Ours(hash, block) => {
                self.include_mined(chain, rec.id, hash, &block, report)
                    .await
            }
            // Re-nonced only once an operator has accepted the foreign
            // sends as the key's history (`resume`); until then the lane is
            // halted and the row keeps its nonce.
            Fence::Foreign(hash) if rec.nonce >= forgiven => {
                self.halt(&format!(
                    "nonce {} of {} was used by {hash}, which this lane did not send",
                    rec.nonce, self.sender
                ))?;
                Ok(())
            }
            Fence::Foreign(hash) => {
                tracing::warn!(chain_id = self.chain_id, nonce = rec.nonce, foreign = %hash, "nonce used by a transaction accepted as the key's history; re-noncing");
                self.renonce(rec.id)?;
                report.renonced += 1;
                Ok(())
            }
        }
    }

    /// Row `id`'s nonce was used by `hash` in `block`: included, with the
    /// outcome its receipt gives (a node without the receipt yet is asked
    /// again next tick).
    async fn include_mined(
        &self,
        chain: &EvmChain,
        id: i64,
        hash: B256,
        block: &BlockRef,
        report: &mut TickReport,
    ) -> Result<()> {
        match chain.status(&TxId(hash.to_vec())).await? {
            TxStatus::Included { block, success } => {
                self.mark_included(id, hash, &block, success)?;
                report.included += 1;
                Ok(())
            }
            _ => Err(Error::Chain(ChainError::Transport(format!(
                "{hash} is in block {} but its receipt is not available yet",
                block.number
            )))),
        }
    }

    fn mark_included(&self, id: i64, hash: B256, block: &BlockRef, success: bool) -> Result<()> {
        // Not ours when another process sent the same call: no bytes.
        let raw = self.attempt_raw(&hash)?;
        self.store.conn().execute(
            &format!("UPDATE tx SET state = {TX_INCLUDED}, hash = ?1, raw = ?2, reverted = ?3, block_number = ?4, block_hash = ?5, updated_ms = ?6 WHERE id = ?7"),
            params![hash.to_vec(), raw, !success, to_i64(block.number, "block number")?, block.hash.to_vec(), now_ms(), id],
        )?;
        Ok(())
    }

    /// Whether `block` is final under `rule` and the chain's own rule
    /// (a tier never weakens the chain's): deep enough under the head, and
    /// (for a tag) at or below the chain's own tagged block.
    async fn is_final(
        &self,
        chain: &EvmChain,
        rule: Finality,
        block: u64,
        head: &BlockRef,
    ) -> Result<bool> {
        let rule = rule.stricter(chain.finality());
        Ok(chain.final_under(rule, head).await? >= block)
    }

    /// The lane's own row.
    fn lane_row(&self) -> Result<LaneRow> {
        let (c, s) = self.key()?;
        let (next, adopted, resumed, forgive, halted): (i64, bool, bool, i64, Option<String>) =
            self.store.conn().query_row(
                "SELECT next_nonce, adopted, resumed, forgive_below, halted FROM lane WHERE chain_id = ?1 AND sender = ?2",
                params![c, s],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
        Ok(LaneRow {
            next: u64::try_from(next).map_err(|_| corrupt("negative next_nonce"))?,
            adopted,
            resumed,
            forgive_below: u64::try_from(forgive).unwrap_or(0),
            halted,
        })
    }

    /// First tick of a new lane: the key's mined nonce is where this lane
    /// starts; rows reserved before that (never signed, no attempt exists)
    /// are numbered from it. (Not the pending nonce: a pooled transaction
    /// of someone else's that is later dropped would leave a gap below
    /// every row. One that is mined instead shows as a foreign send.)
    async fn adopt(&self, chain: &EvmChain) -> Result<()> {
        let pending = chain.nonce(false).await?;
        let (c, s) = self.key()?;
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let rows: Vec<i64> = {
            let mut stmt = t.prepare(&format!(
                "SELECT id FROM tx WHERE chain_id = ?1 AND sender = ?2 AND state = {TX_RESERVED}
                 AND NOT EXISTS (SELECT 1 FROM attempt a WHERE a.tx_id = tx.id) ORDER BY nonce"
            ))?;
            stmt.query_map(params![c, s], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let signed: i64 = t.query_row(
            &format!("SELECT COUNT(*) FROM tx WHERE chain_id = ?1 AND sender = ?2 AND state != {TX_RESERVED}"),
            params![c, s],
            |r| r.get(0),
        )?;
        if signed == 0 {
            let start = to_i64(pending, "nonce")?;
            for (k, id) in rows.iter().enumerate() {
                t.execute(
                    "UPDATE tx SET nonce = ?1 WHERE id = ?2",
                    params![start + i64::try_from(k).unwrap_or(i64::MAX), id],
                )?;
            }
            let next = start + i64::try_from(rows.len()).unwrap_or(i64::MAX);
            t.execute(
                "UPDATE lane SET next_nonce = MAX(next_nonce, ?1), forgive_below = ?2, adopted = 1 WHERE chain_id = ?3 AND sender = ?4",
                params![next, start, c, s],
            )?;
        } else {
            t.execute(
                "UPDATE lane SET adopted = 1 WHERE chain_id = ?1 AND sender = ?2",
                params![c, s],
            )?;
        }
        t.commit()?;
        tracing::info!(chain_id = self.chain_id, sender = %self.sender, nonce = pending, "lane adopted the key's history");
        Ok(())
    }

    /// After an operator's resume: everything the key did so far is its
    /// history; the lane continues past it.
    fn accept_history(&self, mined: u64) -> Result<()> {
        let (c, s) = self.key()?;
        self.store.conn().execute(
            "UPDATE lane SET next_nonce = MAX(next_nonce, ?1), forgive_below = MAX(forgive_below, ?1), resumed = 0 WHERE chain_id = ?2 AND sender = ?3",
            params![to_i64(mined, "nonce")?, c, s],
        )?;
        Ok(())
    }

    /// Drives every open row one step: see the module docs. Safe to call
    /// at any time, any number of times, after any crash. A row whose step
    /// fails is recorded and skipped; the others go on.
    pub async fn tick(&self, chain: &EvmChain) -> Result<TickReport> {
        let head = chain.head().await?;
        let mined = chain.nonce(false).await?;
        let mut lane = self.lane_row()?;
        if !lane.adopted {
            self.adopt(chain).await?;
            lane = self.lane_row()?;
        }
        if lane.resumed {
            self.accept_history(mined)?;
            lane = self.lane_row()?;
        }
        if mined > lane.next {
            self.halt(&format!(
                "the chain's nonce of {} is {mined}, past every nonce this lane reserved (next {}): another process sends with this key",
                self.sender, lane.next
            ))?;
            lane = self.lane_row()?;
        }
        let mut report = TickReport {
            chain_nonce: mined,
            head: head.number,
            halted: lane.halted.clone(),
            ..TickReport::default()
        };
        // Whether a row of lower nonce is not yet in a block, and whether
        // one is not even signed (a gap: nothing above it can be mined,
        // so nothing above it is sent or re-priced until it is).
        let mut ahead = false;
        let mut gap = false;
        for rec in self.open_records()? {
            let waiting = rec.state != TxState::Included;
            let id = rec.id;
            let had_error = rec.last_error.is_some();
            // A halted lane only follows what is already in a block.
            let halted = report.halted.is_some() || self.halted()?.is_some();
            if halted && rec.state != TxState::Included {
                ahead |= waiting;
                continue;
            }
            let below = Below { ahead, gap };
            match self
                .step(chain, rec, &head, mined, below, &mut report)
                .await
            {
                Ok(()) if had_error => self.set_error(id, None)?,
                Ok(()) => {}
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(chain_id = self.chain_id, row = id, error = %e, retryable = e.is_retryable(), "lane row step failed; retrying next tick");
                    self.set_error(id, Some(&e.to_string()))?;
                }
            }
            ahead |= waiting;
            gap |= self.by_id(id)?.state == TxState::Reserved;
        }
        report.halted = self.halted()?;
        Ok(report)
    }

    async fn step(
        &self,
        chain: &EvmChain,
        rec: TxRecord,
        head: &BlockRef,
        mined: u64,
        below: Below,
        report: &mut TickReport,
    ) -> Result<()> {
        let ahead = below.ahead;
        match rec.state {
            TxState::Reserved => {
                if rec.nonce < mined {
                    return self.nonce_passed(chain, &rec, head, report).await;
                }
                if below.gap {
                    return Ok(());
                }
                let mut rec = rec;
                let mut gas = 21_000;
                if rec.cancelled.is_none() {
                    match self.simulate(chain, &rec).await {
                        Ok(units) => {
                            gas = rec
                                .call
                                .gas_limit
                                .unwrap_or_else(|| self.policy.gas_limit(units));
                        }
                        // It may depend on an earlier transaction of this
                        // lane that is not mined yet: wait for it.
                        Err(Error::Chain(ChainError::WouldRevert(_))) if ahead => {
                            return Ok(());
                        }
                        // Only an execution revert cancels the call; a
                        // node that failed to answer is asked again.
                        Err(Error::Chain(ChainError::WouldRevert(why))) => {
                            self.cancel(rec.id, &why)?;
                            report.cancelled += 1;
                            rec = self.by_id(rec.id)?;
                        }
                        Err(e) => return Err(e),
                    }
                }
                let (base, tip) = self.market(chain).await?;
                self.attempt(chain, &rec, self.policy.price(base, tip), gas, head.number)
                    .await?;
                report.sent += 1;
            }
            TxState::Signed | TxState::Sent => {
                if let Some((h, block, ok)) = self.find_included(chain, rec.id).await? {
                    self.mark_included(rec.id, h, &block, ok)?;
                    report.included += 1;
                    return Ok(());
                }
                if rec.nonce < mined {
                    return self.nonce_passed(chain, &rec, head, report).await;
                }
                let waited = head
                    .number
                    .saturating_sub(rec.sent_head.unwrap_or(head.number));
                let gas = rec.call.gas_limit.unwrap_or(21_000);
                if waited >= self.policy.replace_after_blocks && !below.gap {
                    let (base, tip) = self.market(chain).await?;
                    let old = rec.fees.ok_or_else(|| corrupt("sent row without fees"))?;
                    if let Some(new) = self.policy.bump(old, base, tip) {
                        tracing::info!(
                            chain_id = self.chain_id,
                            nonce = rec.nonce,
                            old_max = old.max,
                            new_max = new.max,
                            "replacing unmined transaction"
                        );
                        self.attempt(chain, &rec, new, gas, head.number).await?;
                        report.replaced += 1;
                        return Ok(());
                    }
                }
                self.rebroadcast(chain, &rec, report).await?;
            }
            TxState::Included => {
                let Some((number, hash)) = rec.block else {
                    return Err(corrupt("included row without block"));
                };
                let canonical = chain.block_at(number).await?;
                if canonical.as_ref().map(|b| B256::from(b.hash)) != Some(hash) {
                    report.reorged += 1;
                    tracing::warn!(
                        chain_id = self.chain_id,
                        nonce = rec.nonce,
                        block = number,
                        "block of an included transaction left the chain"
                    );
                    if let Some((h, block, ok)) = self.find_included(chain, rec.id).await? {
                        self.mark_included(rec.id, h, &block, ok)?;
                        return Ok(());
                    }
                    // Not ours (another process sent the same call): the
                    // row goes back to waiting for its nonce's fate.
                    if rec.raw.is_none() {
                        self.store.conn().execute(
                            &format!("UPDATE tx SET state = {TX_RESERVED}, hash = NULL, block_number = NULL, block_hash = NULL, reverted = 0, updated_ms = ?1 WHERE id = ?2"),
                            params![now_ms(), rec.id],
                        )?;
                        return Ok(());
                    }
                    // Back to sent, write-ahead, then the same bytes again.
                    self.store.conn().execute(
                        &format!("UPDATE tx SET state = {TX_SENT}, block_number = NULL, block_hash = NULL, reverted = 0, sent_head = ?1, updated_ms = ?2 WHERE id = ?3"),
                        params![to_i64(head.number, "head")?, now_ms(), rec.id],
                    )?;
                    if self.halted()?.is_none() {
                        let rec = self.by_id(rec.id)?;
                        self.rebroadcast(chain, &rec, report).await?;
                    }
                } else if self.is_final(chain, rec.finality, number, head).await? {
                    self.set_state(rec.id, TxState::Final)?;
                    report.finalized += 1;
                }
            }
            TxState::Final => {}
        }
        Ok(())
    }

    async fn rebroadcast(
        &self,
        chain: &EvmChain,
        rec: &TxRecord,
        report: &mut TickReport,
    ) -> Result<()> {
        let Some(h) = rec.hash else { return Ok(()) };
        if chain.status(&TxId(h.to_vec())).await? == TxStatus::Pending {
            return Ok(());
        }
        let raw = rec
            .raw
            .clone()
            .ok_or_else(|| corrupt("signed row without bytes"))?;
        match chain.broadcast(&raw).await {
            Ok(()) => {
                if rec.state == TxState::Signed {
                    self.set_state(rec.id, TxState::Sent)?;
                }
                report.rebroadcast += 1;
                self.hook(Stage::Broadcast, rec.id)?;
            }
            Err(e @ (ChainError::Underpriced(_) | ChainError::FenceUsed(_))) => {
                tracing::info!(chain_id = self.chain_id, nonce = rec.nonce, error = %e, "stored attempt not accepted; waiting to replace");
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    async fn simulate(&self, chain: &EvmChain, rec: &TxRecord) -> Result<u64> {
        let tx = EvmTx {
            to: rec.call.to,
            data: Bytes::from(rec.call.data.clone()),
            value: rec.call.value,
            nonce: rec.nonce,
            gas_limit: rec.call.gas_limit.unwrap_or(0),
            max_fee_per_gas: 0,
            max_priority_fee_per_gas: 0,
        };
        Ok(chain.simulate(&tx).await?.units)
    }

    fn cancel(&self, id: i64, why: &str) -> Result<()> {
        tracing::warn!(
            chain_id = self.chain_id,
            id,
            reason = why,
            "call would revert; filling its nonce with a no-op"
        );
        self.store.conn().execute(
            "UPDATE tx SET cancelled = ?1, updated_ms = ?2 WHERE id = ?3",
            params![why, now_ms(), id],
        )?;
        Ok(())
    }
}

/// What the rows of lower nonce are like.
#[derive(Clone, Copy)]
struct Below {
    /// One is not yet in a block.
    ahead: bool,
    /// One is not even signed.
    gap: bool,
}

/// The lane's row in the store.
struct LaneRow {
    next: u64,
    adopted: bool,
    resumed: bool,
    forgive_below: u64,
    halted: Option<String>,
}
