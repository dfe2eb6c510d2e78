//! Payouts on chains paid through the generic lane ([`GenericLane`]: Solana
//! today), straight from the lane signer's token account, as many lines to
//! one transaction as the adapter computes fit.
//!
//! ```text
//! routed     as on every chain: gates, approvals, first-payout delay, and
//!            the float (the signer's token balance, less every item
//!            routed, batched, submitted or confirmed there)
//! batched    one SQLite transaction writes the batch row (chain_id 0, the
//!            chain's name), moves its items to batched and reserves the
//!            lane intent with the adapter's payload: none exists without
//!            the others
//! submitted  the lane signed an attempt (it may be on the network)
//! confirmed  the attempt is in a block (a fork sends it back)
//! final      the intent is final and executed, and the adapter reads this
//!            item's balance change in that transaction
//! ```
//!
//! A transaction that executed and failed moved nothing (a Solana
//! transaction is atomic), and its attempt was included, so no attempt of
//! that intent can run again: its items go back to the queue and are
//! planned afresh (a recipient whose token account was closed after
//! planning gets it created next time). An item the adapter does not see
//! paid in a transaction that succeeded is held for an operator: it is
//! never paid again by itself.

use super::*;
use crate::states::IntentState;
use crate::states::sql::{
    BATCH_FINAL, BATCH_SUBMITTED, BATCH_VOID, PAYOUT_BATCHED, PAYOUT_CONFIRMED, PAYOUT_FINAL,
    PAYOUT_QUEUED, PAYOUT_ROUTED, PAYOUT_SUBMITTED,
};
use crate::vmlane::{GenericLane, Intent};
use switchyard_core::chain::TxId;
use switchyard_core::chain::vm::{LineOutcome, PayoutLine, VmPayouts};

/// A chain whose payouts go through the generic lane.
#[derive(Clone)]
pub struct VmPayoutChain {
    /// The lane of the signer that pays (built over `adapter`).
    pub lane: GenericLane,
    /// The same adapter, for planning and outcomes.
    pub adapter: Arc<dyn VmPayouts>,
    /// The token paid there, as the chain writes it (a Solana mint).
    pub token: String,
}

impl std::fmt::Debug for VmPayoutChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VmPayoutChain")
            .field("lane", &self.lane)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// An item of a generic-lane batch: (id, recipient, amount, memo).
type VmItem = (String, String, String, Option<String>);

fn lines_of(items: &[VmItem]) -> Result<Vec<PayoutLine>> {
    items
        .iter()
        .map(|(id, recipient, amount, memo)| {
            Ok(PayoutLine {
                id: id.clone(),
                recipient: recipient.clone(),
                amount: amount
                    .parse()
                    .map_err(|_| Error::Corrupt(format!("amount of {id}")))?,
                memo: memo.clone(),
            })
        })
        .collect()
}

impl Payouts {
    /// Installs the chains paid through the generic lane, by topology name.
    pub fn with_vm_chains(mut self, chains: HashMap<String, VmPayoutChain>) -> Self {
        self.vm = chains;
        self
    }

    /// How long a generic-lane batch whose payload the chain refuses as it
    /// is (its simulation reverts: an account frozen or closed since it was
    /// planned) waits before it is withdrawn and its items planned again
    /// (default 60 s: a refusal may pass, say once the float is topped up).
    pub fn with_replan_after_ms(mut self, ms: u64) -> Self {
        self.vm_replan_ms = ms;
        self
    }

    /// The chains paid through the generic lane.
    pub fn vm_chains(&self) -> &HashMap<String, VmPayoutChain> {
        &self.vm
    }

    /// Records that a step failed on generic-lane chain `chain`.
    pub(crate) fn vm_chain_failed(&self, chain: &str, what: &str) {
        tracing::warn!(
            chain,
            error = what,
            "payout step failed on this chain; the others go on"
        );
        let mut e = self.errors();
        e.vm_this_step.insert(chain.to_owned());
        let since = e.vm_last.get(chain).map_or(now_ms(), |(_, s)| *s);
        e.vm_last.insert(chain.to_owned(), (what.to_owned(), since));
    }

    /// Generic-lane chains whose last step failed: (chain, error, since ms).
    pub fn vm_chain_errors(&self) -> Vec<(String, String, i64)> {
        let mut v: Vec<(String, String, i64)> = self
            .errors()
            .vm_last
            .iter()
            .map(|(c, (e, s))| (c.clone(), e.clone(), *s))
            .collect();
        v.sort();
        v
    }

    /// What the float of a generic-lane chain has left for new items: the
    /// signer's token balance less everything routed, batched, submitted or
    /// confirmed there (confirmed items are counted until final, so a
    /// balance read a little behind the lane never admits twice).
    pub(super) async fn vm_float_left(
        &self,
        name: &str,
        vc: &VmPayoutChain,
    ) -> std::result::Result<U256, String> {
        let balance = match vc.adapter.float().await {
            Ok(b) => U256::from(b),
            Err(e) => {
                self.vm_chain_failed(name, &format!("float: {e}"));
                return Err(e.to_string());
            }
        };
        let committed = self
            .sum_items(
                "chain_id = 0 AND chain = ?1 AND token = ?6 AND state IN (?2, ?3, ?4, ?5)",
                params![
                    name,
                    PayoutState::Routed,
                    PayoutState::Batched,
                    PayoutState::Submitted,
                    PayoutState::Confirmed,
                    vc.token
                ],
            )
            .map_err(|e| e.to_string())?;
        Ok(balance.saturating_sub(committed))
    }

    /// Routed items of each generic-lane chain -> batches, when as many
    /// wait as one transaction holds (or the policy's most) or the oldest
    /// waited long enough. Each chain on its own.
    pub(super) async fn flush_vm(&self) -> Result<()> {
        for (name, vc) in &self.vm {
            match self.flush_vm_chain(name, vc).await {
                Ok(()) => {}
                // Only the store stops every chain; anything else holds
                // this chain (recorded and retried).
                Err(e @ Error::Store(_)) => return Err(e),
                Err(e) => self.vm_chain_failed(name, &format!("batching: {e}")),
            }
        }
        Ok(())
    }

    async fn flush_vm_chain(&self, name: &str, vc: &VmPayoutChain) -> Result<()> {
        loop {
            let routed: Vec<(VmItem, i64, i64)> = {
                let conn = self.store.conn();
                let mut stmt = conn.prepare(&format!(
                    "SELECT id, recipient, amount, memo, updated_ms, voids FROM payout WHERE state = {PAYOUT_ROUTED} AND chain_id = 0 AND chain = ?1 AND token = ?3 ORDER BY seq LIMIT ?2"
                ))?;
                stmt.query_map(
                    params![
                        name,
                        i64::try_from(self.policy.max_items).unwrap_or(i64::MAX),
                        vc.token
                    ],
                    |r| {
                        Ok((
                            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
                            r.get(4)?,
                            r.get(5)?,
                        ))
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?
            };
            if routed.is_empty() {
                return Ok(());
            }
            let oldest = routed.iter().map(|(_, at, _)| *at).min().unwrap_or(0);
            // How often each was in a batch proven unable to pay, and when
            // it was routed (an operator's retry resets the first).
            let tries: Vec<String> = routed
                .iter()
                .map(|(_, at, voids)| format!("{voids}@{at}"))
                .collect();
            let items: Vec<VmItem> = routed.into_iter().map(|(i, _, _)| i).collect();
            let lines = lines_of(&items)?;
            // The first line cannot be paid even alone (the chain refuses
            // its recipient, or it is too large for one transaction): it
            // waits for an operator, and the others go on.
            let fit = match vc.adapter.fit(&lines).await {
                Ok(0) => {
                    let why = format!("does not fit in one transaction on {name} even alone");
                    self.hold_for_operator(&items[0].0, &why)?;
                    continue;
                }
                Ok(n) => n,
                Err(switchyard_core::chain::ChainError::WouldRevert(why)) => {
                    self.hold_for_operator(&items[0].0, &format!("{name} refuses it: {why}"))?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let full = fit < lines.len() || lines.len() >= self.policy.max_items;
            let old = now_ms().saturating_sub(oldest)
                >= i64::try_from(self.policy.max_age_ms).unwrap_or(i64::MAX);
            if !(full || old) {
                return Ok(());
            }
            let take = &items[..fit];
            let payload = vc.adapter.payout_payload(&lines[..fit]).await?;
            let ids: Vec<&str> = take.iter().map(|i| i.0.as_str()).collect();
            // Named by its items and their tries: a batch after a void has
            // another name.
            let batch = format!(
                "vb_{}",
                alloy::primitives::hex::encode(
                    &keccak256(format!(
                        "switchyard/vm-batch/{name}/{}/{}",
                        ids.join(","),
                        tries[..fit].join(",")
                    ))[..12]
                )
            );
            if !self.write_vm_batch(name, vc, &batch, &ids, &payload)? {
                // An item moved meanwhile (cancelled, rejected): plan again.
                continue;
            }
            tracing::info!(chain = name, batch = %batch, items = ids.len(), "payout batch written and reserved on the lane");
            self.at("written", &batch);
        }
    }

    /// Holds routed item `id` until an operator retries it (`ops_approve`)
    /// or fails it (`ops_reject`); routing leaves it alone meanwhile.
    fn hold_for_operator(&self, id: &str, why: &str) -> Result<()> {
        tracing::warn!(payout = id, reason = why, "payout held for an operator");
        self.store.conn().execute(
            &format!("UPDATE payout SET state = {PAYOUT_HELD}, reason = ?1, voids = MAX(voids, ?2), updated_ms = ?3 WHERE id = ?4 AND state = {PAYOUT_ROUTED} AND batch_id IS NULL"),
            params![
                format!("{why}: {}", route::RETRY_BY_OPERATOR),
                route::MAX_VOIDS,
                now_ms(),
                id
            ],
        )?;
        Ok(())
    }

    /// One SQLite transaction: the batch row, its items -> batched, and the
    /// lane intent. `false` (nothing written) if an item is no longer
    /// routed.
    fn write_vm_batch(
        &self,
        name: &str,
        vc: &VmPayoutChain,
        batch: &str,
        ids: &[&str],
        payload: &[u8],
    ) -> Result<bool> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let now = now_ms();
        for (pos, id) in ids.iter().enumerate() {
            let n = t.execute(
                &format!("UPDATE payout SET state = {PAYOUT_BATCHED}, batch_id = ?1, batch_pos = ?2, reason = NULL, updated_ms = ?3 WHERE id = ?4 AND state = {PAYOUT_ROUTED} AND batch_id IS NULL"),
                params![batch, i64::try_from(pos).unwrap_or(i64::MAX), now, id],
            )?;
            if n != 1 {
                return Ok(false);
            }
        }
        t.execute(
            &format!("INSERT INTO payout_batch (id, chain_id, token, deadline, state, items, created_ms, chain) VALUES (?1, 0, ?2, 0, {BATCH_SUBMITTED}, ?3, ?4, ?5)"),
            params![batch, vc.token, i64::try_from(ids.len()).unwrap_or(i64::MAX), now, name],
        )?;
        vc.lane.reserve_in(&t, &batch_intent(batch), payload)?;
        t.commit()?;
        Ok(true)
    }

    /// Open generic-lane batches follow their intents (see the module docs).
    pub(super) async fn follow_vm(&self) -> Result<()> {
        let open: Vec<(String, String, i64)> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(&format!(
                "SELECT id, chain, created_ms FROM payout_batch WHERE chain_id = 0 AND state = {BATCH_SUBMITTED} ORDER BY created_ms"
            ))?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        for (batch, name, created) in open {
            let Some(vc) = self.vm.get(&name) else {
                continue;
            };
            match self.follow_vm_batch(&batch, vc, created).await {
                Ok(()) => {}
                // Only the store stops every chain; anything else holds
                // this chain (recorded and retried).
                Err(e @ Error::Store(_)) => return Err(e),
                Err(e) => self.vm_chain_failed(&name, &format!("batch {batch}: {e}")),
            }
        }
        Ok(())
    }

    fn vm_items(&self, batch: &str) -> Result<Vec<VmItem>> {
        self.batch_items_with(batch, "memo")
    }

    /// The id of the attempt that is in a block, if one is.
    fn included_id(vc: &VmPayoutChain, intent: &Intent) -> Result<Option<TxId>> {
        let Some(attempt) = intent.attempt else {
            return Ok(None);
        };
        Ok(vc
            .lane
            .attempts(intent.id)?
            .into_iter()
            .find(|a| a.id == attempt)
            .map(|a| TxId(a.tx_id)))
    }

    async fn follow_vm_batch(&self, batch: &str, vc: &VmPayoutChain, created: i64) -> Result<()> {
        let Some(mut intent) = vc.lane.get(&batch_intent(batch))? else {
            return Err(Error::Corrupt(format!("batch {batch} has no lane intent")));
        };
        let now = now_ms();
        // The chain refuses the planned transaction as it is (an account
        // frozen or closed since planning): once that has lasted, it is
        // withdrawn (only while no attempt of it can execute) and its
        // items are planned again.
        if intent.state == IntentState::Reserved
            && intent.fails_as_is()
            && now.saturating_sub(created) >= i64::try_from(self.vm_replan_ms).unwrap_or(i64::MAX)
        {
            let why = intent.last_error.clone().unwrap_or_default();
            if vc.lane.withdraw(&batch_intent(batch), &why)? {
                tracing::warn!(batch, reason = %why, "payout batch refused by the chain; withdrawn to plan again");
                intent = vc
                    .lane
                    .get(&batch_intent(batch))?
                    .ok_or_else(|| Error::Corrupt(format!("batch {batch} has no lane intent")))?;
            }
        }
        match intent.state {
            IntentState::Reserved => {
                // Nothing alive on the network (none signed yet, or every
                // attempt proven dead): the items wait in their batch.
                self.store.conn().execute(
                    &format!("UPDATE payout SET state = {PAYOUT_BATCHED}, updated_ms = ?1 WHERE batch_id = ?2 AND state IN ({PAYOUT_SUBMITTED}, {PAYOUT_CONFIRMED})"),
                    params![now, batch],
                )?;
            }
            IntentState::Signed | IntentState::Sent => {
                self.store.conn().execute(
                    &format!("UPDATE payout SET state = {PAYOUT_SUBMITTED}, paid_block = NULL, updated_ms = ?1 WHERE batch_id = ?2 AND state IN ({PAYOUT_BATCHED}, {PAYOUT_CONFIRMED})"),
                    params![now, batch],
                )?;
            }
            IntentState::Included => {
                let block = intent
                    .block
                    .map(|(n, _)| i64::try_from(n).unwrap_or(i64::MAX));
                self.store.conn().execute(
                    &format!("UPDATE payout SET state = {PAYOUT_CONFIRMED}, paid_block = ?1, updated_ms = ?2 WHERE batch_id = ?3 AND (state IN ({PAYOUT_BATCHED}, {PAYOUT_SUBMITTED}) OR (state = {PAYOUT_CONFIRMED} AND paid_block IS NOT ?1))"),
                    params![block, now, batch],
                )?;
            }
            IntentState::Final if intent.success.is_none() => {
                // Never written by the lane; if it were, whether anything
                // moved is unknown: neither settled nor planned again.
                return Err(Error::Corrupt(format!(
                    "batch {batch}: final without knowing whether it executed"
                )));
            }
            IntentState::Final if intent.success == Some(true) => {
                let id = Self::included_id(vc, &intent)?
                    .ok_or_else(|| Error::Corrupt(format!("final batch {batch} has no attempt")))?;
                let items = self.vm_items(batch)?;
                let lines = lines_of(&items)?;
                let outcomes = vc.adapter.outcomes(&id, &lines).await?;
                if outcomes.len() != lines.len() {
                    return Err(Error::Corrupt(format!(
                        "batch {batch}: {} outcomes for {} lines",
                        outcomes.len(),
                        lines.len()
                    )));
                }
                let tx = vc.adapter.show_id(&id);
                let block = intent
                    .block
                    .map(|(n, _)| i64::try_from(n).unwrap_or(i64::MAX));
                let mut conn = self.store.conn();
                let t = conn.transaction()?;
                for (line, outcome) in lines.iter().zip(&outcomes) {
                    match outcome {
                        LineOutcome::Paid => t.execute(
                            &format!("UPDATE payout SET state = {PAYOUT_FINAL}, reason = NULL, paid_tx = ?1, paid_block = ?2, updated_ms = ?3 WHERE id = ?4 AND batch_id = ?5"),
                            params![tx, block, now, line.id, batch],
                        )?,
                        LineOutcome::NotPaid(why) => t.execute(
                            &format!("UPDATE payout SET state = {PAYOUT_HELD}, reason = ?1, paid_tx = ?2, paid_block = ?3, updated_ms = ?4 WHERE id = ?5 AND batch_id = ?6"),
                            params![
                                format!("not seen paid in {tx}, which succeeded ({why}): an operator must look; it is never paid again by itself"),
                                tx,
                                block,
                                now,
                                line.id,
                                batch
                            ],
                        )?,
                    };
                }
                t.execute(
                    &format!("UPDATE payout_batch SET state = {BATCH_FINAL}, used_block = ?1 WHERE id = ?2"),
                    params![block, batch],
                )?;
                t.commit()?;
                tracing::info!(batch, tx = %tx, items = lines.len(), "payout batch final");
            }
            IntentState::Final | IntentState::Dead => {
                let why = match intent.state {
                    IntentState::Dead => format!(
                        "its batch was withdrawn before it could execute ({})",
                        intent.why_dead.as_deref().unwrap_or("no reason")
                    ),
                    _ => "its batch's transaction executed and failed on chain, moving nothing: planned again".to_owned(),
                };
                let mut conn = self.store.conn();
                let t = conn.transaction()?;
                t.execute(
                    &format!("UPDATE payout SET state = {PAYOUT_QUEUED}, batch_id = NULL, batch_pos = NULL, paid_block = NULL, voids = voids + 1, reason = ?1, updated_ms = ?2 WHERE batch_id = ?3"),
                    params![why, now, batch],
                )?;
                t.execute(
                    &format!(
                        "UPDATE payout_batch SET state = {BATCH_VOID}, reason = ?1 WHERE id = ?2"
                    ),
                    params![why, batch],
                )?;
                t.commit()?;
                tracing::warn!(batch, reason = %why, "payout batch void; its items are queued again");
            }
        }
        Ok(())
    }

    /// The transaction of a generic-lane batch, for views: the included
    /// attempt, else the latest one.
    pub(super) fn vm_tx(&self, name: &str, batch: &str) -> Result<Option<String>> {
        let Some(vc) = self.vm.get(name) else {
            return Ok(None);
        };
        let Some(intent) = vc.lane.get(&batch_intent(batch))? else {
            return Ok(None);
        };
        let id = match Self::included_id(vc, &intent)? {
            Some(id) => Some(id),
            None => vc
                .lane
                .attempts(intent.id)?
                .into_iter()
                .last()
                .map(|a| TxId(a.tx_id)),
        };
        Ok(id.map(|id| vc.adapter.show_id(&id)))
    }
}
