//! What the operators' console reads from the store beyond the views the
//! API already has: payouts by chain and state, the approvals under way,
//! what waits behind each governor, each merchant's flow in a window, and
//! the last pause or resume of every target. Reads only; each is one
//! statement, so it sees one committed state.

use alloy::primitives::U256;
use rusqlite::params;

use crate::Result;
use crate::states::sql::{
    PAYOUT_BATCHED, PAYOUT_CANCELLED, PAYOUT_CONFIRMED, PAYOUT_FAILED, PAYOUT_HELD, PAYOUT_QUEUED,
    PAYOUT_ROUTED, PAYOUT_SUBMITTED,
};
use crate::store::Store;

/// A payout waiting for operators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Awaiting {
    /// Payout id.
    pub id: String,
    /// Approvals it needs.
    pub needed: i64,
    /// Distinct operators who approved so far, in order.
    pub approved_by: Vec<String>,
    /// Its USD value, 8 decimals (`U256::MAX`: it has no price).
    pub usd_e8: U256,
}

/// Payouts held by one chain's governor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GovernorQueue {
    /// The governor's key of the chain ([`crate::governor::key`]): its EVM
    /// chain id, or its bridge domain.
    pub chain_id: i64,
    /// How many.
    pub items: i64,
    /// Their USD value, 8 decimals (saturated: one of them has no price).
    pub usd_e8: U256,
}

/// One merchant's payouts created in a window (failed and cancelled ones
/// not counted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerchantFlow {
    /// The merchant (API key name).
    pub owner: String,
    /// Items.
    pub items: i64,
    /// Their USD value, 8 decimals (saturated: one of them has no price).
    pub usd_e8: U256,
}

/// The last pause or resume of one target.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct LastChange {
    /// `chain`, `bridge` or `route`.
    pub kind: String,
    /// Its id.
    pub target: String,
    /// `pause` or `resume`.
    pub action: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When, unix ms.
    pub at_ms: i64,
}

/// A stored USD value; one this build cannot read counts as unpriced
/// (the largest value), never as nothing.
fn usd(s: &str) -> U256 {
    s.parse().unwrap_or(U256::MAX)
}

/// Rows of (key, USD) sorted by key, as (key, count, saturated sum).
fn group<K: PartialEq>(rows: Vec<(K, String)>) -> Vec<(K, i64, U256)> {
    let mut out: Vec<(K, i64, U256)> = Vec::new();
    for (k, u) in rows {
        match out.last_mut() {
            Some((last, n, sum)) if *last == k => {
                *n += 1;
                *sum = sum.saturating_add(usd(&u));
            }
            _ => out.push((k, 1, usd(&u))),
        }
    }
    out
}

impl Store {
    /// Counts of payouts not yet final, failed or cancelled, by (EVM chain
    /// id, state): the open ones, read through the state index without
    /// scanning the history.
    pub fn payout_counts_by_chain(&self) -> Result<Vec<(i64, String, i64)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT chain_id, state, COUNT(*) FROM payout
             WHERE state IN ({PAYOUT_QUEUED}, {PAYOUT_ROUTED}, {PAYOUT_HELD}, {PAYOUT_BATCHED}, {PAYOUT_SUBMITTED}, {PAYOUT_CONFIRMED})
             GROUP BY chain_id, state ORDER BY chain_id, state"
        ))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Payouts not yet batched that still need approvals, oldest first.
    pub fn awaiting_approval(&self, limit: usize) -> Result<Vec<Awaiting>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT id, approvals, approved_by, usd FROM payout
             WHERE state IN ({PAYOUT_QUEUED}, {PAYOUT_HELD}) AND approvals > json_array_length(approved_by)
             ORDER BY seq LIMIT ?1"
        ))?;
        let rows = stmt
            .query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                let by: String = r.get(2)?;
                let u: String = r.get(3)?;
                Ok(Awaiting {
                    id: r.get(0)?,
                    needed: r.get(1)?,
                    approved_by: serde_json::from_str(&by).unwrap_or_default(),
                    usd_e8: usd(&u),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Per chain, the payouts its governor holds (queued behind the budget
    /// or waiting for an operator).
    pub fn governor_queues(&self) -> Result<Vec<GovernorQueue>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT chain_id, chain, usd FROM payout WHERE state = {PAYOUT_HELD} AND reason LIKE 'governor:%'"
        ))?;
        let mut rows = stmt
            .query_map([], |r| {
                Ok((
                    crate::governor::key(
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<String>>(1)?.as_deref(),
                    ),
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // Grouped by the governor's key (consecutive rows per key).
        rows.sort_by_key(|(k, _)| *k);
        Ok(group(rows)
            .into_iter()
            .map(|(chain_id, items, usd_e8)| GovernorQueue {
                chain_id,
                items,
                usd_e8,
            })
            .collect())
    }

    /// Each merchant's payouts created since `since_ms`.
    pub fn merchant_flows(&self, since_ms: i64) -> Result<Vec<MerchantFlow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT owner, usd FROM payout WHERE created_ms >= ?1 AND state NOT IN ({PAYOUT_FAILED}, {PAYOUT_CANCELLED}) ORDER BY owner"
        ))?;
        let rows = stmt
            .query_map(params![since_ms], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(group(rows)
            .into_iter()
            .map(|(owner, items, usd_e8)| MerchantFlow {
                owner,
                items,
                usd_e8,
            })
            .collect())
    }

    /// How many of `owner`'s payouts were created since `since_ms`, and
    /// their USD value (8 decimals), as its budget counts them at intake.
    pub fn merchant_used(&self, owner: &str, since_ms: i64) -> Result<(i64, U256)> {
        crate::payout::merchant_used(&self.conn(), owner, since_ms)
    }

    /// The audit log's last sequence number (0 when empty).
    pub fn audit_head(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM audit", [], |r| r.get(0))?)
    }

    /// The last pause or resume of every target ever paused.
    pub fn last_pause_changes(&self) -> Result<Vec<LastChange>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT a.action, a.target, a.actor, a.reason, a.at_ms FROM audit a
             JOIN (SELECT target, MAX(seq) AS seq FROM audit
                   WHERE action IN ('pause', 'resume') GROUP BY target) l
               ON a.seq = l.seq
             ORDER BY a.seq DESC",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .map(|(action, target, actor, reason, at_ms)| {
                let (kind, target) = target
                    .split_once(':')
                    .map_or((String::new(), target.clone()), |(k, t)| {
                        (k.to_owned(), t.to_owned())
                    });
                LastChange {
                    kind,
                    target,
                    action,
                    actor,
                    reason,
                    at_ms,
                }
            })
            .collect())
    }
}
