//! The chain-facing half of the generic lane: one step of every open
//! intent (see the parent module's docs), and the transitions it writes.

use rusqlite::params;
use switchyard_core::chain::TxId;
use switchyard_core::chain::vm::AttemptStatus;

use super::{Attempt, GenericLane, Intent, VmStage, now_ms};
use crate::error::{Error, Result};
use crate::states::{AttemptState, IntentState};

/// What one [`GenericLane::tick`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmTickReport {
    /// Attempts signed and stored (first ones and re-signings).
    pub signed: usize,
    /// Of those, attempts under a new fence after every earlier one was
    /// proven dead.
    pub resigned: usize,
    /// Live attempts whose bytes went out again.
    pub rebroadcast: usize,
    /// Attempts newly seen in a block.
    pub included: usize,
    /// Intents that became final.
    pub finalized: usize,
    /// Intents whose block left the chain.
    pub forked: usize,
    /// Attempts proven dead.
    pub dead: usize,
    /// Intents whose step failed this time (recorded on the row).
    pub errors: usize,
}

impl GenericLane {
    /// Drives every open intent one step. Errors of one intent are
    /// recorded on it and the tick goes on with the next.
    pub async fn tick(&self) -> Result<VmTickReport> {
        let mut report = VmTickReport::default();
        for intent in self.open_intents()? {
            match self.step(&intent, &mut report).await {
                Ok(()) => self.set_error(intent.id, None)?,
                Err(e @ (Error::Store(_) | Error::Corrupt(_))) => return Err(e),
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(chain = %self.chain, intent = %intent.key, error = %e, "lane step failed; retried next tick");
                    // A payload the chain refuses as it is (simulation)
                    // says so on the row, for its owner to re-plan.
                    let text = match &e {
                        Error::Chain(c) if c.is_revert() => format!("{}{e}", super::FAILS_AS_IS),
                        _ => e.to_string(),
                    };
                    self.set_error(intent.id, Some(&text))?;
                }
            }
        }
        Ok(report)
    }

    async fn step(&self, intent: &Intent, report: &mut VmTickReport) -> Result<()> {
        let attempts = self.attempts(intent.id)?;
        let mut included = None;
        for a in attempts.iter().filter(|a| a.state != AttemptState::Dead) {
            match self
                .adapter
                .status(&TxId(a.tx_id.clone()), &a.fence)
                .await?
            {
                AttemptStatus::Included {
                    block,
                    success,
                    finalized,
                } => {
                    included = Some((a, block, success, finalized));
                    break;
                }
                AttemptStatus::Live => self.keep_alive(a, report).await?,
                AttemptStatus::Dead(proof) => {
                    self.store.conn().execute(
                        "UPDATE vm_attempt SET state = ?1, dead_proof = ?2 WHERE id = ?3",
                        params![AttemptState::Dead, proof, a.id],
                    )?;
                    tracing::info!(chain = %self.chain, intent = %intent.key, %proof, "attempt proven dead");
                    report.dead += 1;
                }
            }
        }
        if let Some((a, block, success, finalized)) = included {
            let here = Some((block.number, block.hash));
            if intent.state != IntentState::Included
                || intent.block != here
                || intent.attempt != Some(a.id)
            {
                let mut conn = self.store.conn();
                let t = conn.transaction()?;
                t.execute(
                    "UPDATE vm_attempt SET state = ?1 WHERE id = ?2",
                    params![AttemptState::Included, a.id],
                )?;
                t.execute(
                    "UPDATE vm_intent SET state = ?1, attempt_id = ?2, block_number = ?3, block_hash = ?4, success = ?5, updated_ms = ?6 WHERE id = ?7",
                    params![
                        IntentState::Included,
                        a.id,
                        i64::try_from(block.number).map_err(|_| Error::Corrupt("block number".into()))?,
                        block.hash.to_vec(),
                        success,
                        now_ms(),
                        intent.id
                    ],
                )?;
                t.commit()?;
                drop(conn);
                report.included += 1;
                self.hook(VmStage::Included, &intent.key);
            }
            if finalized {
                // Final under the chain's strongest commitment, and the block
                // at its height is still this one.
                let canonical = self
                    .adapter
                    .block_at(block.number)
                    .await?
                    .is_some_and(|b| b.hash == block.hash);
                if canonical {
                    self.store.conn().execute(
                        "UPDATE vm_intent SET state = ?1, updated_ms = ?2 WHERE id = ?3",
                        params![IntentState::Final, now_ms(), intent.id],
                    )?;
                    report.finalized += 1;
                }
            }
            return Ok(());
        }
        if intent.state == IntentState::Included {
            // Its block left the chain: the attempt is not in a block any
            // more; it is watched (and sent again) like any live one.
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            t.execute(
                "UPDATE vm_attempt SET state = ?1 WHERE intent_id = ?2 AND state = ?3",
                params![AttemptState::Sent, intent.id, AttemptState::Included],
            )?;
            t.execute(
                "UPDATE vm_intent SET state = ?1, attempt_id = NULL, block_number = NULL, block_hash = NULL, success = NULL, updated_ms = ?2 WHERE id = ?3",
                params![IntentState::Sent, now_ms(), intent.id],
            )?;
            t.commit()?;
            report.forked += 1;
            tracing::warn!(chain = %self.chain, intent = %intent.key, "included attempt left the chain; watching it again");
        }
        let alive = self
            .attempts(intent.id)?
            .iter()
            .any(|a| a.state != AttemptState::Dead);
        if !alive {
            let had_attempts = !attempts.is_empty();
            if intent.state != IntentState::Reserved {
                // Only from the state this step read: never over a
                // withdrawal or a finality written meanwhile.
                self.store.conn().execute(
                    "UPDATE vm_intent SET state = ?1, updated_ms = ?2 WHERE id = ?3 AND state = ?4",
                    params![IntentState::Reserved, now_ms(), intent.id, intent.state],
                )?;
            }
            self.sign_and_send(intent, report).await?;
            if had_attempts {
                report.resigned += 1;
            }
        }
        Ok(())
    }

    /// A live attempt: broadcast it if it never was, or again once
    /// `rebroadcast_ms` passed since the last time.
    async fn keep_alive(&self, a: &Attempt, report: &mut VmTickReport) -> Result<()> {
        let due = match (a.state, a.sent_ms) {
            (AttemptState::Signed, _) | (_, None) => true,
            (_, Some(at)) => now_ms().saturating_sub(at) >= self.rebroadcast_ms,
        };
        if !due {
            return Ok(());
        }
        match self.adapter.broadcast(&a.raw).await {
            Ok(()) => {
                self.mark_sent(a.id)?;
                if a.state != AttemptState::Signed {
                    report.rebroadcast += 1;
                }
            }
            Err(e) => {
                tracing::debug!(chain = %self.chain, error = %e, "rebroadcast refused");
            }
        }
        Ok(())
    }

    fn mark_sent(&self, attempt: i64) -> Result<()> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        t.execute(
            "UPDATE vm_attempt SET state = ?1, sent_ms = ?2 WHERE id = ?3 AND state IN (?4, ?1)",
            params![AttemptState::Sent, now_ms(), attempt, AttemptState::Signed],
        )?;
        t.execute(
            "UPDATE vm_intent SET state = ?1, updated_ms = ?2 WHERE id = (SELECT intent_id FROM vm_attempt WHERE id = ?3) AND state = ?4",
            params![IntentState::Sent, now_ms(), attempt, IntentState::Signed],
        )?;
        t.commit()?;
        Ok(())
    }

    /// Simulates, takes a fresh fence, signs, stores the attempt (one
    /// transaction with the intent's new state) and only then broadcasts.
    /// Called only when no attempt of the intent is alive.
    async fn sign_and_send(&self, intent: &Intent, report: &mut VmTickReport) -> Result<()> {
        // A payload that fails as it is stays reserved: the state it
        // depends on (a float, an account) may change.
        self.adapter.simulate(&intent.payload).await?;
        let fence = self.adapter.fresh_fence().await?;
        let fees = self.adapter.fees().await?;
        let signed = self.adapter.sign(&intent.payload, &fence, &fees).await?;
        let attempt_id = {
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            let now = now_ms();
            // Still reserved with nothing alive: a withdrawal, or another
            // tick that signed first, may have come between the decision to
            // sign and now. Then nothing is stored and nothing sent.
            let claimed = t.execute(
                "UPDATE vm_intent SET state = ?1, updated_ms = ?2 WHERE id = ?3 AND state = ?4
                   AND NOT EXISTS (SELECT 1 FROM vm_attempt a WHERE a.intent_id = ?3 AND a.state != ?5)",
                params![
                    IntentState::Signed,
                    now,
                    intent.id,
                    IntentState::Reserved,
                    AttemptState::Dead
                ],
            )?;
            if claimed == 0 {
                tracing::info!(chain = %self.chain, intent = %intent.key, "intent changed while signing (withdrawn, or signed by another tick); nothing sent");
                return Ok(());
            }
            let inserted = t.execute(
                "INSERT INTO vm_attempt (intent_id, fence, valid_until, tx_id, raw, max_cost, state, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    intent.id,
                    fence.value,
                    fence.valid_until.map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
                    signed.id.0,
                    signed.raw,
                    signed.max_cost.to_string(),
                    AttemptState::Signed,
                    now
                ],
            );
            match inserted {
                Ok(_) => {}
                // Another intent's attempt is these very bytes (equal
                // payloads under one fence): one transaction can pay only
                // one of them. Nothing is stored; the next tick signs under
                // the next fence.
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    return Err(Error::Chain(switchyard_core::chain::ChainError::Transport(
                        "another intent's attempt is this very transaction; signed again under the next fence".into(),
                    )));
                }
                Err(e) => return Err(e.into()),
            }
            let id = t.last_insert_rowid();
            t.commit()?;
            id
        };
        report.signed += 1;
        self.hook(VmStage::Signed, &intent.key);
        self.adapter.broadcast(&signed.raw).await?;
        self.mark_sent(attempt_id)?;
        self.hook(VmStage::Broadcast, &intent.key);
        Ok(())
    }
}
