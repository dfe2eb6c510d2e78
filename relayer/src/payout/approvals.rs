//! Approval tiers that splitting cannot dodge: an item needs the approvals
//! of the largest of its own USD value, the value of its merchant's
//! payouts to the same recipient within the window (this one included),
//! and, when totals are configured, of the merchant's total within the
//! window. Decided inside the transaction that stores the request, so two
//! requests at once are counted together. Operators' approvals and
//! rejections of single items are here too.

use alloy::primitives::U256;
use rusqlite::params;
use switchyard_core::UsdE8;

use super::budget::{merchant_used, sum_usd};
use super::{Approval, NewPayout, Payouts, now_ms, route};
use crate::error::{Error, Result};
use crate::states::PayoutState;
use crate::states::sql::{PAYOUT_CANCELLED, PAYOUT_FAILED};
use crate::states::sql::{PAYOUT_HELD, PAYOUT_QUEUED, PAYOUT_ROUTED};
use rusqlite::OptionalExtension;

/// `[relayer.approvals]`, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApprovalTiers {
    /// From this much (an item, or a merchant's items to one recipient in
    /// the window) one operator approves.
    pub single: UsdE8,
    /// From this much two distinct operators approve.
    pub dual: UsdE8,
    /// The window the aggregates are counted over.
    pub window_ms: u64,
    /// A merchant's total in the window from which one operator approves
    /// each further item.
    pub total_single: Option<UsdE8>,
    /// ... and from which two do.
    pub total_dual: Option<UsdE8>,
}

fn tier(v: U256, single: Option<UsdE8>, dual: Option<UsdE8>) -> u8 {
    if dual.is_some_and(|d| v >= d.0) {
        2
    } else if single.is_some_and(|s| v >= s.0) {
        1
    } else {
        0
    }
}

/// What `owner` paid (or will pay) `recipient` since `since_ms`, in USD,
/// failed and cancelled items not counted; saturating.
fn recipient_used(
    conn: &rusqlite::Connection,
    owner: &str,
    recipient: &str,
    since_ms: i64,
) -> Result<U256> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT usd FROM payout WHERE owner = ?1 AND recipient = ?2 AND created_ms >= ?3 AND state NOT IN ({PAYOUT_FAILED}, {PAYOUT_CANCELLED})"
    ))?;
    let rows = stmt
        .query_map(params![owner, recipient, since_ms], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    sum_usd(&rows)
}

/// The approvals each of `items` needs, in order.
pub(super) fn needed(
    conn: &rusqlite::Connection,
    owner: &str,
    tiers: &ApprovalTiers,
    items: &[NewPayout],
    now: i64,
) -> Result<Vec<u8>> {
    let since = now.saturating_sub(i64::try_from(tiers.window_ms).unwrap_or(i64::MAX));
    let mut total = if tiers.total_single.is_some() || tiers.total_dual.is_some() {
        merchant_used(conn, owner, since)?.1
    } else {
        U256::ZERO
    };
    let mut per_recipient: std::collections::HashMap<String, U256> = Default::default();
    let mut out = Vec::with_capacity(items.len());
    for p in items {
        let r = p.recipient.clone();
        let so_far = match per_recipient.get(&r) {
            Some(v) => *v,
            None => recipient_used(conn, owner, &r, since)?,
        };
        let to_recipient = so_far.saturating_add(p.usd.0);
        per_recipient.insert(r, to_recipient);
        total = total.saturating_add(p.usd.0);
        out.push(
            p.approvals
                .max(tier(p.usd.0, Some(tiers.single), Some(tiers.dual)))
                .max(tier(to_recipient, Some(tiers.single), Some(tiers.dual)))
                .max(tier(total, tiers.total_single, tiers.total_dual)),
        );
    }
    Ok(out)
}

impl Payouts {
    /// Adds `operator`'s approval to a payout waiting for approvals, or
    /// admits one the governor holds for an operator (larger than the
    /// chain's whole budget, or without a USD price). Approvals come from
    /// distinct operators: a second one by the same operator changes
    /// nothing. The audit entry is written in the same SQLite transaction.
    /// Returns the outcome, or an error naming why it cannot be approved.
    pub fn approve(
        &self,
        id: &str,
        operator: &str,
    ) -> Result<std::result::Result<Approval, String>> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        type Row = (String, i64, String, Option<String>, bool, Option<String>);
        let row: Option<Row> = t
            .query_row(
                "SELECT state, approvals, approved_by, reason, gov_override, batch_id FROM payout WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()?;
        let Some((state, need, by, reason, overridden, batch)) = row else {
            return Ok(Err("unknown".into()));
        };
        // In a batch (held for its signatures): past every approval, and
        // never taken out of it here.
        if let Some(b) = batch {
            return Ok(Err(format!(
                "needs no approval (in batch {b}, state {state})"
            )));
        }
        let mut have: Vec<String> = serde_json::from_str(&by).unwrap_or_default();
        if !matches!(
            PayoutState::parse(&state),
            Some(PayoutState::Queued | PayoutState::Held)
        ) {
            return Ok(Err(format!("needs no approval (state {state})")));
        }
        let waits_for_operator = reason
            .as_deref()
            .is_some_and(|r| r.starts_with("governor:") && r.ends_with(route::NEEDS_OPERATOR));
        let waits_for_retry = reason
            .as_deref()
            .is_some_and(|r| r.ends_with(route::RETRY_BY_OPERATOR));
        let now = now_ms();
        let (action, admitted) = if usize::try_from(need).unwrap_or(0) > have.len() {
            if !have.iter().any(|h| h == operator) {
                have.push(operator.to_owned());
            }
            t.execute(
                "UPDATE payout SET approved_by = ?1, updated_ms = ?2 WHERE id = ?3",
                params![
                    serde_json::to_string(&have).map_err(|e| Error::Corrupt(e.to_string()))?,
                    now,
                    id
                ],
            )?;
            ("approve", false)
        } else if waits_for_retry {
            t.execute(
                &format!("UPDATE payout SET voids = 0, state = {PAYOUT_QUEUED}, reason = ?1, updated_ms = ?2 WHERE id = ?3"),
                params![format!("retried by {operator}"), now, id],
            )?;
            ("retry", true)
        } else if waits_for_operator && !overridden {
            t.execute(
                "UPDATE payout SET gov_override = 1, reason = ?1, updated_ms = ?2 WHERE id = ?3",
                params![format!("admitted past the governor by {operator}"), now, id],
            )?;
            ("admit", true)
        } else {
            return Ok(Err(format!("needs no approval (state {state})")));
        };
        let audit = crate::ops::Ops::append(
            &t,
            operator,
            action,
            &format!("payout:{id}"),
            &format!("{} of {need}", have.len()),
        )?;
        t.commit()?;
        Ok(Ok(Approval {
            approvals: have.len(),
            needed: need,
            admitted,
            audit,
        }))
    }

    /// Rejects a payout that is not yet in a batch: it fails with the
    /// operator's reason, audited in the same SQLite transaction.
    /// `Ok(None)`: too late or unknown.
    pub fn reject(
        &self,
        id: &str,
        operator: &str,
        reason: &str,
    ) -> Result<Option<crate::AuditEntry>> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let n = t.execute(
            &format!("UPDATE payout SET state = {PAYOUT_FAILED}, reason = ?1, updated_ms = ?2 WHERE id = ?3 AND state IN ({PAYOUT_QUEUED}, {PAYOUT_ROUTED}, {PAYOUT_HELD}) AND batch_id IS NULL"),
            params![format!("rejected by {operator}: {reason}"), now_ms(), id],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let e = crate::ops::Ops::append(&t, operator, "reject", &format!("payout:{id}"), reason)?;
        t.commit()?;
        Ok(Some(e))
    }
}
