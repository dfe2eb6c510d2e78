//! Merchant budgets: the USD value of a merchant's payouts created in a
//! sliding window, decided inside the transaction that stores a request.

use alloy::primitives::U256;
use rusqlite::params;
use switchyard_core::UsdE8;

use super::NewPayout;
use crate::states::sql::{PAYOUT_CANCELLED, PAYOUT_FAILED};
use crate::{Error, Result};

/// A merchant's budget (see `[[relayer.merchant_budget]]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MerchantBudget {
    /// USD of payouts created per window at most.
    pub budget: UsdE8,
    /// Window length.
    pub window_ms: u64,
    /// USD of one item at most.
    pub max_item: Option<UsdE8>,
}

/// Why a request is over its merchant's budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OverBudget {
    /// Item `index` is larger than the merchant's largest item.
    Item {
        /// Its position in the request.
        index: usize,
        /// Its USD value.
        usd: UsdE8,
        /// The limit.
        max: UsdE8,
    },
    /// Item `index` has no USD value (its amount times its asset's price
    /// does not fit), so no budget can count it (fail closed, as the
    /// governor does).
    Unpriced {
        /// Its position in the request.
        index: usize,
    },
    /// The request would take the window's total over the budget.
    Window {
        /// Used in the window before it.
        used: UsdE8,
        /// The request's total.
        requested: UsdE8,
        /// The budget.
        budget: UsdE8,
        /// The window.
        window_ms: u64,
    },
}

/// How many of `owner`'s payouts were created since `since_ms`, and their
/// USD value, failed and cancelled ones not counted. The sum saturates: an
/// unpriced item (stored as the largest value) fills any budget.
pub(crate) fn merchant_used(
    conn: &rusqlite::Connection,
    owner: &str,
    since_ms: i64,
) -> Result<(i64, U256)> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT usd FROM payout WHERE owner = ?1 AND created_ms >= ?2 AND state NOT IN ({PAYOUT_FAILED}, {PAYOUT_CANCELLED})"
    ))?;
    let rows = stmt
        .query_map(params![owner, since_ms], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((
        i64::try_from(rows.len()).unwrap_or(i64::MAX),
        sum_usd(&rows)?,
    ))
}

/// The saturating sum of stored USD values (decimal strings).
pub(super) fn sum_usd(rows: &[String]) -> Result<U256> {
    let mut sum = U256::ZERO;
    for u in rows {
        let v: U256 = u
            .parse()
            .map_err(|_| Error::Corrupt(format!("payout usd {u:?}")))?;
        sum = sum.saturating_add(v);
    }
    Ok(sum)
}

pub(super) fn check_budget(
    conn: &rusqlite::Connection,
    owner: &str,
    b: &MerchantBudget,
    items: &[NewPayout],
    now: i64,
) -> Result<()> {
    let mut requested = U256::ZERO;
    for (index, p) in items.iter().enumerate() {
        if p.usd.0 == U256::MAX {
            return Err(Error::OverBudget(OverBudget::Unpriced { index }));
        }
        if let Some(max) = b.max_item
            && p.usd.0 > max.0
        {
            return Err(Error::OverBudget(OverBudget::Item {
                index,
                usd: p.usd,
                max,
            }));
        }
        requested = requested.saturating_add(p.usd.0);
    }
    let since = now.saturating_sub(i64::try_from(b.window_ms).unwrap_or(i64::MAX));
    let (_, used) = merchant_used(conn, owner, since)?;
    if used.saturating_add(requested) > b.budget.0 {
        return Err(Error::OverBudget(OverBudget::Window {
            used: UsdE8(used),
            requested: UsdE8(requested),
            budget: b.budget,
            window_ms: b.window_ms,
        }));
    }
    Ok(())
}
