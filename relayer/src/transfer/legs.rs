//! The chain-facing steps of a hop: deposit, release (waiting for
//! liquidity, retried), and refund (cancel the release, then refund), as
//! the parent module's docs lay out.

// The parent module's types and imports; these are more of its methods.
use super::*;
use crate::states::HopState;
use crate::states::sql::{HOP_DEPOSITED, HOP_REFUNDING, HOP_RELEASING};
use switchyard_chains::evm::attest::calldata;
use switchyard_core::attest::{Attestation, Attested};

impl Transfers {
    pub(super) async fn start_deposit(&self, id: &str, i: usize, plan: &HopPlan) -> Result<Step> {
        if let Some(treasury) = self.treasury_on(plan.from.chain_id) {
            return self.start_treasury_deposit(id, i, plan, treasury).await;
        }
        let src = self.lane(plan.from.chain_id)?;
        let me = src.lane.sender();
        let allowance = src
            .chain
            .allowance(plan.from.token, me, plan.from.escrow)
            .await?;
        if allowance < plan.amount_in {
            // One approval per (token, escrow); another only if the last
            // one did not execute.
            let base = format!("approve:{}:{}", plan.from.token, plan.from.escrow);
            let mut n = 0;
            let mut last = None;
            while let Some(rec) = src.lane.get(&numbered(&base, n))? {
                last = Some(rec);
                n += 1;
            }
            match last {
                Some(rec) if rec.succeeded() => {
                    return Ok(Step::Failed(format!(
                        "allowance of {me} to escrow {} exhausted",
                        plan.from.escrow
                    )));
                }
                Some(rec) if !rec.failed() => {}
                Some(rec) if n >= MAX_TRIES => {
                    // Nothing of this hop was sent: it can fail.
                    return Ok(Step::Failed(format!(
                        "the approval of escrow {} failed {MAX_TRIES} times (last: {})",
                        plan.from.escrow,
                        failure(&rec).unwrap_or_default()
                    )));
                }
                _ => {
                    src.lane.reserve(
                        &numbered(&base, n),
                        &Call::contract(plan.from.token, approve_call(plan.from.escrow, U256::MAX)),
                        plan.from.finality,
                    )?;
                }
            }
        }
        src.lane.reserve(
            &intent(id, i, "deposit"),
            &Call::contract(
                plan.from.escrow,
                escrow::deposit(
                    plan.from.token,
                    plan.amount_in,
                    plan.to.chain_id,
                    plan.recipient,
                ),
            ),
            plan.from.finality,
        )?;
        self.set_hop(id, i, HopState::Pending, HopState::Depositing, None)?;
        Ok(Step::Wait)
    }

    /// The deposit from the chain's treasury: a `TreasuryDeposit` the
    /// signer set signs (its deadline written first, so a crash asks for
    /// the same message again), carried by the lane.
    async fn start_treasury_deposit(
        &self,
        id: &str,
        i: usize,
        plan: &HopPlan,
        treasury: EvmAddress,
    ) -> Result<Step> {
        let src = self.lane(plan.from.chain_id)?;
        if src.lane.get(&intent(id, i, "deposit"))?.is_some() {
            // Reserved before a crash: only the hop's state is left to move.
            self.set_hop(id, i, HopState::Pending, HopState::Depositing, None)?;
            return Ok(Step::Wait);
        }
        let idx = i64::try_from(i).unwrap_or(i64::MAX);
        let known: Option<i64> = self.store.conn().query_row(
            "SELECT deposit_deadline FROM hop WHERE transfer_id = ?1 AND idx = ?2",
            params![id, idx],
            |r| r.get(0),
        )?;
        let now_s = switchyard_core::now_ms() / 1000;
        // Chosen once and written before it is signed; chosen anew only
        // once it has passed unreserved (the co-signers sign the same
        // deposit under a new deadline only then).
        let deadline = match known.and_then(|d| u64::try_from(d).ok()) {
            Some(d) if d > now_s => d,
            _ => {
                let d = now_s + self.release.ttl_s;
                self.store.conn().execute(
                    "UPDATE hop SET deposit_deadline = ?1 WHERE transfer_id = ?2 AND idx = ?3",
                    params![i64::try_from(d).unwrap_or(i64::MAX), id, idx],
                )?;
                d
            }
        };
        let what = Attestation::TreasuryDeposit {
            chain_id: plan.from.chain_id,
            treasury,
            op_id: alloy::primitives::keccak256(format!("{id}/{i}/deposit")),
            escrow: plan.from.escrow,
            token: plan.from.token,
            amount: plan.amount_in,
            destination_chain_id: plan.to.chain_id,
            recipient: plan.recipient,
            deadline,
        };
        let Some(sigs) = self.signatures(id, i, &what).await? else {
            return Ok(Step::Wait);
        };
        src.lane.reserve(
            &intent(id, i, "deposit"),
            &Call::contract(treasury, calldata(&what, &sigs)),
            plan.from.finality,
        )?;
        self.set_hop(id, i, HopState::Pending, HopState::Depositing, None)?;
        Ok(Step::Wait)
    }

    pub(super) async fn await_deposit(&self, id: &str, i: usize, plan: &HopPlan) -> Result<Step> {
        let src = self.lane(plan.from.chain_id)?;
        let Some(rec) = src.lane.get(&intent(id, i, "deposit"))? else {
            return Err(Error::Corrupt("depositing hop without its deposit".into()));
        };
        // The deposit call was never sent (it reverts): nothing left the
        // relayer, and this intent's nonce carried a no-op.
        if let Some(why) = failure(&rec) {
            return Ok(Step::Failed(format!("deposit: {why}")));
        }
        if !rec.succeeded() {
            return Ok(Step::Wait);
        }
        let hash = rec
            .hash
            .ok_or_else(|| Error::Corrupt("final tx without hash".into()))?;
        let deposits = src.chain.deposits_in(hash).await?;
        let Some(dep) = deposits.iter().find(|d| d.escrow == plan.from.escrow) else {
            return Ok(Step::Failed(format!(
                "deposit {hash} emitted no Deposited event"
            )));
        };
        if dep.amount < plan.amount_in {
            // In escrow, but less than planned (a fee-on-transfer token):
            // releasing the planned amount would pay out more than arrived.
            // Refund what arrived instead, in the same write that records
            // the deposit, so no release of it is ever signed.
            let why = format!(
                "escrow received {} of the {} deposited",
                dep.amount, plan.amount_in
            );
            tracing::error!(transfer = %id, hop = i, why, "refunding a short deposit");
            self.store.conn().execute(
                &format!("UPDATE hop SET state = {HOP_REFUNDING}, deposit_id = ?1, refund_reason = ?2 WHERE transfer_id = ?3 AND idx = ?4"),
                params![dep.id.to_vec(), why, id, i64::try_from(i).unwrap_or(i64::MAX)],
            )?;
            return Ok(Step::Wait);
        }
        self.set_hop(
            id,
            i,
            HopState::Depositing,
            HopState::Deposited,
            Some(dep.id),
        )?;
        Ok(Step::Wait)
    }

    /// Reserves a release once the destination escrow can pay it; while it
    /// cannot, waits (alert after `alert_ms`, refund after
    /// `refund_after_ms` if set).
    pub(super) async fn start_release(
        &self,
        id: &str,
        i: usize,
        h: &HopRow,
        deposit: B256,
    ) -> Result<Step> {
        let plan = &h.plan;
        let dst = self.lane(plan.to.chain_id)?;
        let name = intent(id, i, &release_kind(h.release_seq));
        if dst.lane.get(&name)?.is_none() {
            if dst
                .chain
                .released(plan.to.escrow, plan.from.chain_id, deposit)
                .await?
            {
                // Paid by an earlier release of this deposit.
                self.set_hop(id, i, HopState::Deposited, HopState::Releasing, None)?;
                return Ok(Step::Wait);
            }
            if h.since_ms.is_some()
                && let Some(step) = self.waited_too_long(id, i, h)?
            {
                return Ok(step);
            }
            let held = dst
                .chain
                .erc20_balance(plan.to.token, plan.to.escrow)
                .await?;
            if held < plan.amount_out {
                return self
                    .wait_for_liquidity(
                        id,
                        i,
                        h,
                        &format!(
                            "destination escrow {} holds {held} of the {} to release",
                            plan.to.escrow, plan.amount_out
                        ),
                    )
                    .await;
            }
            // Chosen once per release and written before it is signed: a
            // crash before the reservation asks for the same release again.
            let now_s = switchyard_core::now_ms() / 1000;
            let deadline = match h.release_deadline {
                // Chosen anew only once it passed unreserved.
                Some(d) if d > now_s => d,
                _ => {
                    let d = now_s + self.release.ttl_s;
                    self.store.conn().execute(
                        "UPDATE hop SET release_deadline = ?1 WHERE transfer_id = ?2 AND idx = ?3",
                        params![
                            i64::try_from(d).unwrap_or(i64::MAX),
                            id,
                            i64::try_from(i).unwrap_or(i64::MAX)
                        ],
                    )?;
                    d
                }
            };
            let what = ReleaseOrder {
                source_chain_id: plan.from.chain_id,
                deposit_id: deposit,
                destination_chain_id: plan.to.chain_id,
                escrow: plan.to.escrow,
                token: plan.to.token,
                recipient: plan.recipient,
                amount: plan.amount_out,
                deadline,
            }
            .attestation();
            let Some(sigs) = self.signatures(id, i, &what).await? else {
                return Ok(Step::Wait);
            };
            dst.lane.reserve(
                &name,
                &Call::contract(plan.to.escrow, calldata(&what, &sigs)),
                plan.to.finality,
            )?;
        }
        self.set_hop(id, i, HopState::Deposited, HopState::Releasing, None)?;
        Ok(Step::Wait)
    }

    pub(super) async fn wait_for_liquidity(
        &self,
        id: &str,
        i: usize,
        h: &HopRow,
        what: &str,
    ) -> Result<Step> {
        self.note(id, i, &format!("waiting: {what}"))?;
        let h = HopRow {
            since_ms: Some(h.since_ms.unwrap_or_else(now_ms)),
            ..h.clone()
        };
        Ok(self.waited_too_long(id, i, &h)?.unwrap_or(Step::Wait))
    }

    /// A hop waiting to be released since `h.since_ms`: an alert after
    /// `alert_ms`, given up and refunded after `refund_after_ms` (when set).
    pub(super) fn waited_too_long(&self, id: &str, i: usize, h: &HopRow) -> Result<Option<Step>> {
        let Some(since) = h.since_ms else {
            return Ok(None);
        };
        let waited = now_ms().saturating_sub(since);
        let what = h.note.clone().unwrap_or_default();
        let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        if self.release.refund_after_ms > 0 && waited >= ms(self.release.refund_after_ms) {
            let why = format!("not released for {} s: {what}", waited / 1000);
            // A leg that cannot be refunded (a bridge vault's) goes on
            // waiting, with the alert below.
            if let Ok(e) = self.refund(id, "switchyard", &why)? {
                tracing::warn!(transfer = %id, hop = i, audit = e.seq, "giving up on the release; refunding the deposit");
                return Ok(Some(Step::Wait));
            }
        }
        if waited >= ms(self.release.alert_ms) {
            let n = self.store.conn().execute(
                "INSERT OR IGNORE INTO alert (kind, chain_id, detail, created_ms) VALUES ('release_waiting', ?1, ?2, ?3)",
                params![
                    i64::try_from(h.plan.to.chain_id).unwrap_or(i64::MAX),
                    format!("transfer {id} hop {i}: release waiting since {since}: {what}"),
                    now_ms()
                ],
            )?;
            if n == 1 {
                tracing::error!(transfer = %id, hop = i, what, "release waiting too long");
            }
        }
        Ok(None)
    }

    pub(super) async fn await_release(&self, id: &str, i: usize, h: &HopRow) -> Result<Step> {
        let plan = &h.plan;
        let dst = self.lane(plan.to.chain_id)?;
        let deposit = h
            .deposit
            .ok_or_else(|| Error::Corrupt("releasing hop without its deposit".into()))?;
        let Some(rec) = dst.lane.get(&intent(id, i, &release_kind(h.release_seq)))? else {
            // Released by an earlier release of this deposit (see
            // start_release): settle on the escrow's word, at depth.
            return self.released_or_cancelled(id, i, plan, deposit).await;
        };
        if rec.succeeded() {
            return Ok(
                if self.set_hop(id, i, HopState::Releasing, HopState::Done, None)? {
                    Step::Done
                } else {
                    Step::Wait
                },
            );
        }
        if rec.failed() {
            // Paid by an earlier release of this deposit? Then it is done:
            // the guard refused a second payment, as it should.
            if dst
                .chain
                .released(plan.to.escrow, plan.from.chain_id, deposit)
                .await?
            {
                return self.released_or_cancelled(id, i, plan, deposit).await;
            }
            // Not sent, or reverted (the escrow was short, the deadline
            // passed): sign another. The escrow pays one at most.
            tracing::warn!(transfer = %id, hop = i, why = failure(&rec).as_deref().unwrap_or("not sent"), "release did not execute; retrying");
            self.note(
                id,
                i,
                &format!(
                    "waiting: release {} did not execute ({}); signing another",
                    h.release_seq,
                    failure(&rec).unwrap_or_default()
                ),
            )?;
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            t.execute(
                &format!("UPDATE hop SET state = {HOP_DEPOSITED}, release_seq = release_seq + 1, release_deadline = NULL WHERE transfer_id = ?1 AND idx = ?2 AND state = {HOP_RELEASING}"),
                params![id, i64::try_from(i).unwrap_or(i64::MAX)],
            )?;
            t.commit()?;
        }
        Ok(Step::Wait)
    }

    /// The escrow says the deposit was used: released (the hop is done),
    /// or cancelled by a refund in progress (back to refunding).
    /// The escrow says the deposit was used: released (the hop is done),
    /// or cancelled (the hop refunds), each once its event is in a
    /// canonical block final under the destination's rule (and the
    /// chain's). `Ok(Some(cancelled))` when that is proven; `Ok(None)` to
    /// wait.
    async fn use_of_deposit(
        &self,
        id: &str,
        i: usize,
        plan: &HopPlan,
        deposit: B256,
    ) -> Result<Option<bool>> {
        let dst = self.lane(plan.to.chain_id)?;
        let head = dst.chain.head().await?;
        let Some((cancelled, _tx, block)) = dst
            .chain
            .release_event(
                plan.to.escrow,
                plan.from.chain_id,
                deposit,
                head.number,
                EVENT_SPAN,
            )
            .await?
        else {
            return Err(Error::Chain(switchyard_core::chain::ChainError::Transport(
                format!(
                    "deposit {deposit} is used on the destination but its event is not indexed yet"
                ),
            )));
        };
        let canonical = dst
            .chain
            .block_at(block.number)
            .await?
            .is_some_and(|b| b.hash == block.hash);
        let rule = plan.to.finality.stricter(dst.chain.finality());
        if !canonical || dst.chain.final_under(rule, &head).await? < block.number {
            self.note(
                id,
                i,
                &format!(
                    "waiting for the depth of the deposit's {} in block {}",
                    if cancelled { "cancellation" } else { "release" },
                    block.number
                ),
            )?;
            return Ok(None);
        }
        Ok(Some(cancelled))
    }

    /// The escrow says the deposit was used: released (the hop is done) or
    /// cancelled (the hop refunds), once proven at depth; from whatever
    /// state the hop is in.
    async fn released_or_cancelled(
        &self,
        id: &str,
        i: usize,
        plan: &HopPlan,
        deposit: B256,
    ) -> Result<Step> {
        match self.use_of_deposit(id, i, plan, deposit).await? {
            None => Ok(Step::Wait),
            Some(true) => {
                self.store.conn().execute(
                    &format!("UPDATE hop SET state = {HOP_REFUNDING}, note = NULL WHERE transfer_id = ?1 AND idx = ?2 AND state IN ({HOP_DEPOSITED}, {HOP_RELEASING})"),
                    params![id, i64::try_from(i).unwrap_or(i64::MAX)],
                )?;
                Ok(Step::Wait)
            }
            Some(false) => {
                for from in [
                    HopState::Releasing,
                    HopState::Deposited,
                    HopState::Refunding,
                ] {
                    if self.set_hop(id, i, from, HopState::Done, None)? {
                        return Ok(Step::Done);
                    }
                }
                Ok(Step::Wait)
            }
        }
    }

    /// Cancels the release on the destination, then, once the escrow's
    /// cancellation is final, refunds the deposit on the source; each a
    /// lane intent, signed again (with a growing pause) if one does not
    /// execute. Driven by what the escrows say, not by our transactions'
    /// fate: a release that got there first (a pending one mined before the
    /// cancellation, or an old signed one submitted by anyone) makes the
    /// hop done instead. The refund waits until the escrow allows it
    /// (`refundDelay`, by chain time) and holds enough.
    pub(super) async fn refunding(&self, id: &str, i: usize, h: &HopRow) -> Result<Step> {
        let plan = &h.plan;
        let deposit = h
            .deposit
            .ok_or_else(|| Error::Corrupt("refunding hop without its deposit".into()))?;
        let (src, dst) = (self.lane(plan.from.chain_id)?, self.lane(plan.to.chain_id)?);
        // 1. The destination escrow must never pay this deposit.
        if dst
            .chain
            .released(plan.to.escrow, plan.from.chain_id, deposit)
            .await?
        {
            match self.use_of_deposit(id, i, plan, deposit).await? {
                None => return Ok(Step::Wait),
                Some(false) => {
                    tracing::warn!(transfer = %id, hop = i, "released before its cancellation: the hop is done");
                    return self.released_or_cancelled(id, i, plan, deposit).await;
                }
                Some(true) => {}
            }
        } else {
            let (n, last) = latest(&dst.lane, id, i, "cancel-release")?;
            if due(n, last.as_ref()) {
                let what = escrow::cancel_release(
                    plan.from.chain_id,
                    deposit,
                    plan.to.chain_id,
                    plan.to.escrow,
                );
                let Some(sigs) = self.signatures(id, i, &what).await? else {
                    return Ok(Step::Wait);
                };
                dst.lane.reserve(
                    &intent(id, i, &numbered("cancel-release", n)),
                    &Call::contract(plan.to.escrow, calldata(&what, &sigs)),
                    plan.to.finality,
                )?;
            }
            self.note(
                id,
                i,
                "refunding: cancelling the release on the destination",
            )?;
            return Ok(Step::Wait);
        }
        // 2. Refund on the source once the escrow allows it.
        let Some(locked) = src.chain.locked(plan.from.escrow, deposit).await? else {
            return Err(Error::Corrupt(format!(
                "deposit {deposit} unknown to its escrow"
            )));
        };
        let refunded = || {
            Step::Refunded(format!(
                "deposit refunded to {} after its release was cancelled: {}",
                locked.sender,
                h.refund_reason.clone().unwrap_or_default()
            ))
        };
        let (n, last) = latest(&src.lane, id, i, "refund")?;
        if last.as_ref().is_some_and(TxRecord::succeeded) {
            return Ok(refunded());
        }
        if locked.refunded {
            // Refunded by a transaction of someone else's (our signed
            // refund is public once sent); ours then waits or failed.
            if last.as_ref().is_none_or(|r| r.failed()) {
                return Ok(refunded());
            }
            return Ok(Step::Wait);
        }
        if !due(n, last.as_ref()) {
            return Ok(Step::Wait);
        }
        let delay = src.chain.refund_delay(plan.from.escrow).await?;
        let chain_now = src.chain.head().await?.timestamp_s;
        let at = locked.at.saturating_add(delay);
        if chain_now < at {
            self.note(
                id,
                i,
                &format!("refunding: refundable from {at} (chain time {chain_now})"),
            )?;
            return Ok(Step::Wait);
        }
        let held = src
            .chain
            .erc20_balance(locked.token, plan.from.escrow)
            .await?;
        if held < locked.amount {
            self.note(
                id,
                i,
                &format!(
                    "refunding: the source escrow holds {held} of the {} to refund",
                    locked.amount
                ),
            )?;
            return Ok(Step::Wait);
        }
        let what = escrow::refund(deposit, plan.from.chain_id, plan.from.escrow);
        let Some(sigs) = self.signatures(id, i, &what).await? else {
            return Ok(Step::Wait);
        };
        src.lane.reserve(
            &intent(id, i, &numbered("refund", n)),
            &Call::contract(plan.from.escrow, calldata(&what, &sigs)),
            plan.from.finality,
        )?;
        self.note(id, i, "refunding: refund sent on the source")?;
        Ok(Step::Wait)
    }

    /// The signer set's signatures of `what`, or `None` (the hop noted as
    /// waiting for them, and asked again next step) while too few
    /// co-signers answer.
    async fn signatures(&self, id: &str, i: usize, what: &Attestation) -> Result<Option<Attested>> {
        match self.attester.attest(what).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.is_retryable() => {
                tracing::warn!(transfer = %id, hop = i, kind = what.kind(), error = %e, "waiting for signatures");
                self.note(
                    id,
                    i,
                    &format!("waiting for signatures of {}: {e}", what.kind()),
                )?;
                Ok(None)
            }
            Err(e) => Err(Error::Config(e.to_string())),
        }
    }
}
