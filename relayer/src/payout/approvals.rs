//! Approval tiers that splitting cannot dodge: an item needs the approvals
//! of the largest of its own USD value, the value of its merchant's
//! payouts to the same recipient within the window (this one included),
//! and, when totals are configured, of the merchant's total within the
//! window. Decided inside the transaction that stores the request, so two
//! requests at once are counted together.

use alloy::primitives::U256;
use rusqlite::params;
use switchyard_core::UsdE8;

use super::NewPayout;
use super::budget::{merchant_used, sum_usd};
use crate::Result;
use crate::states::sql::{PAYOUT_CANCELLED, PAYOUT_FAILED};

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
