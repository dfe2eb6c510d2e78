//! What ended hops showed about their bridges: the evidence behind the
//! observed health the quote ranks by (`switchyard_core::health`).
//!
//! A hop leaves exactly one observation, written in the same transaction
//! that ends it (released, failed or refunded), so a crash can neither
//! lose one nor count one twice. A released hop's latency runs from its
//! deposit's reservation to its release being final, as `hop.started_ms`
//! and the end time say; a hop that began before `started_ms` existed has
//! no latency, only its outcome.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::store::Store;
use crate::transfer::HopPlan;

/// One ended hop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// Bridge id.
    pub bridge: String,
    /// Released (true), or failed or refunded.
    pub ok: bool,
    /// Deposit reserved to release final, when known.
    pub latency_ms: Option<u64>,
    /// Depth the hop's source waited for (its amount's finality tier).
    pub src_blocks: u32,
    /// When the hop ended, unix ms.
    pub at_ms: u64,
}

/// Records hop `idx` of transfer `id` as ended now, inside the caller's
/// transaction. A second call for the same hop changes nothing.
pub(crate) fn record(
    conn: &Connection,
    id: &str,
    idx: usize,
    plan: &HopPlan,
    ok: bool,
    now_ms: i64,
) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO bridge_obs (transfer_id, idx, bridge, ok, latency_ms, src_blocks, at_ms)
         SELECT ?1, ?2, ?3, ?4,
                CASE WHEN ?4 = 1 AND started_ms IS NOT NULL THEN MAX(?5 - started_ms, 0) END,
                ?6, ?5
         FROM hop WHERE transfer_id = ?1 AND idx = ?2",
        params![
            id,
            i64::try_from(idx).unwrap_or(i64::MAX),
            plan.bridge,
            ok,
            now_ms,
            i64::from(plan.from.finality.blocks()),
        ],
    )?;
    Ok(())
}

impl Store {
    /// Observations of hops that ended at or after `since_ms`, oldest first.
    pub fn observations_since(&self, since_ms: u64) -> Result<Vec<Observation>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT bridge, ok, latency_ms, src_blocks, at_ms FROM bridge_obs
             WHERE at_ms >= ?1 ORDER BY at_ms",
        )?;
        let rows = stmt
            .query_map([i64::try_from(since_ms).unwrap_or(i64::MAX)], |r| {
                Ok(Observation {
                    bridge: r.get(0)?,
                    ok: r.get(1)?,
                    latency_ms: r
                        .get::<_, Option<i64>>(2)?
                        .and_then(|v| u64::try_from(v).ok()),
                    src_blocks: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(u32::MAX),
                    at_ms: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Deletes observations of hops that ended before `before_ms`; returns
    /// how many.
    pub fn forget_observations_before(&self, before_ms: u64) -> Result<usize> {
        Ok(self.conn().execute(
            "DELETE FROM bridge_obs WHERE at_ms < ?1",
            [i64::try_from(before_ms).unwrap_or(i64::MAX)],
        )?)
    }
}
