//! The chain-facing half of the lane: one step of every open row (see
//! the parent module's docs), and the transitions it writes.

// The parent module's types and imports; these are more of its methods.
use super::*;

/// The node refuses the bytes for their price (the base fee rose past the
/// cap, or a pooled transaction with the same nonce pays more).
fn underpriced(e: &ChainError) -> bool {
    match e {
        ChainError::Rpc { message, .. } => {
            let m = message.to_lowercase();
            m.contains("underpriced")
                || m.contains("less than block base fee")
                || m.contains("fee cap")
                || m.contains("max fee per gas")
        }
        _ => false,
    }
}

/// The node has already mined this nonce.
fn nonce_used(e: &ChainError) -> bool {
    matches!(e, ChainError::Rpc { message, .. } if message.to_lowercase().contains("nonce too low"))
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
                "UPDATE tx SET state = 'signed', hash = ?1, raw = ?2, max_fee = ?3, tip = ?4, gas_limit = ?5, sent_head = ?6, updated_ms = ?7 WHERE id = ?8",
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
            Err(e) if underpriced(&e) || nonce_used(&e) => {
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
    fn renonce(&self, id: i64) -> Result<()> {
        let (c, s) = self.key()?;
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        t.execute(
            "UPDATE tx SET nonce = (SELECT next_nonce FROM lane WHERE chain_id = ?1 AND sender = ?2),
                state = 'reserved', hash = NULL, raw = NULL, max_fee = NULL, tip = NULL, sent_head = NULL,
                block_number = NULL, block_hash = NULL, updated_ms = ?3 WHERE id = ?4",
            params![c, s, now_ms(), id],
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

    fn mark_included(&self, id: i64, hash: B256, block: &BlockRef, success: bool) -> Result<()> {
        let raw = self.attempt_raw(&hash)?;
        self.store.conn().execute(
            "UPDATE tx SET state = 'included', hash = ?1, raw = ?2, reverted = ?3, block_number = ?4, block_hash = ?5, updated_ms = ?6 WHERE id = ?7",
            params![hash.to_vec(), raw, !success, to_i64(block.number, "block number")?, block.hash.to_vec(), now_ms(), id],
        )?;
        Ok(())
    }

    async fn is_final(
        &self,
        chain: &EvmChain,
        rule: Finality,
        block: u64,
        head: u64,
    ) -> Result<bool> {
        Ok(match rule {
            Finality::Blocks { blocks } => {
                head.saturating_add(1).saturating_sub(block) >= u64::from(blocks.max(1))
            }
            Finality::Tag { .. } | Finality::Commitment { .. } => {
                chain.finalized_head().await?.number >= block
            }
        })
    }

    /// Moves the lane's next nonce past what the chain has mined (sends by
    /// someone else from the same key).
    fn catch_up(&self, mined: u64) -> Result<()> {
        let (c, s) = self.key()?;
        self.store.conn().execute(
            "UPDATE lane SET next_nonce = MAX(next_nonce, ?1) WHERE chain_id = ?2 AND sender = ?3",
            params![to_i64(mined, "nonce")?, c, s],
        )?;
        Ok(())
    }

    /// Drives every open row one step: see the module docs. Safe to call
    /// at any time, any number of times, after any crash.
    pub async fn tick(&self, chain: &EvmChain) -> Result<TickReport> {
        let head = chain.head().await?;
        let mined = chain.nonce(false).await?;
        self.catch_up(mined)?;
        let mut report = TickReport {
            chain_nonce: mined,
            head: head.number,
            ..TickReport::default()
        };
        // Whether a row of lower nonce is not yet in a block.
        let mut ahead = false;
        for rec in self.open_records()? {
            let waiting = rec.state != TxState::Included;
            self.step(chain, rec, head.number, mined, ahead, &mut report)
                .await?;
            ahead |= waiting;
        }
        Ok(report)
    }

    async fn step(
        &self,
        chain: &EvmChain,
        rec: TxRecord,
        head: u64,
        mined: u64,
        ahead: bool,
        report: &mut TickReport,
    ) -> Result<()> {
        match rec.state {
            TxState::Reserved => {
                if rec.nonce < mined && self.find_included(chain, rec.id).await?.is_none() {
                    self.renonce(rec.id)?;
                    report.renonced += 1;
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
                        Err(Error::Chain(ChainError::WouldRevert(why))) => {
                            self.cancel(rec.id, &why)?;
                            report.cancelled += 1;
                            rec = self.by_id(rec.id)?;
                        }
                        Err(e) => return Err(e),
                    }
                }
                let (base, tip) = self.market(chain).await?;
                self.attempt(chain, &rec, self.policy.price(base, tip), gas, head)
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
                    // Consumed by a transaction that is none of our attempts.
                    self.renonce(rec.id)?;
                    report.renonced += 1;
                    return Ok(());
                }
                let waited = head.saturating_sub(rec.sent_head.unwrap_or(head));
                let gas = rec.call.gas_limit.unwrap_or(21_000);
                if waited >= self.policy.replace_after_blocks {
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
                        self.attempt(chain, &rec, new, gas, head).await?;
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
                    // Back to sent, write-ahead, then the same bytes again.
                    self.store.conn().execute(
                        "UPDATE tx SET state = 'sent', block_number = NULL, block_hash = NULL, reverted = 0, sent_head = ?1, updated_ms = ?2 WHERE id = ?3",
                        params![to_i64(head, "head")?, now_ms(), rec.id],
                    )?;
                    let rec = self.by_id(rec.id)?;
                    self.rebroadcast(chain, &rec, report).await?;
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
            Err(e) if underpriced(&e) || nonce_used(&e) => {
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
