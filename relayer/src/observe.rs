//! What ended hops showed about their bridges: the evidence behind the
//! observed health the quote ranks by (`switchyard_core::health`).
//!
//! A hop whose deposit was made leaves exactly one observation, written in
//! the same transaction that ends it, so a crash can neither lose one nor
//! count one twice: released (`done`) is a success, refunded (the release
//! never came) a failure. A hop that failed before its deposit was made
//! (its call reverted, its approvals kept failing) says nothing about the
//! bridge's delivery and is not observed (the breaker still counts it).
//! A released hop's latency runs from its deposit's reservation to its
//! release being final (`hop.started_ms` to the end); a hop that began
//! before `started_ms` existed has its outcome only. The finality rules
//! the hop waited for at both ends are kept beside it, so a reader can
//! take out the extra wait of a deeper amount tier.

use rusqlite::{Connection, params};
use switchyard_core::Finality;

use crate::error::{Error, Result};
use crate::states::sql::{HOP_DEPOSITED, HOP_REFUNDING, HOP_RELEASING};
use crate::store::Store;
use crate::transfer::HopPlan;

/// One ended hop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// Its place in the log (grows with every observation).
    pub seq: i64,
    /// Bridge id.
    pub bridge: String,
    /// Released (true) or refunded.
    pub ok: bool,
    /// Deposit reserved to release final, when known.
    pub latency_ms: Option<u64>,
    /// The rule its deposit waited for.
    pub src_finality: Finality,
    /// The rule its release waited for.
    pub dst_finality: Finality,
    /// When the hop ended, unix ms.
    pub at_ms: u64,
}

/// A hop under way: deposit reserved, release not final.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight {
    /// Bridge id.
    pub bridge: String,
    /// When its deposit was reserved, unix ms.
    pub started_ms: u64,
    /// The rule its deposit waits for.
    pub src_finality: Finality,
    /// The rule its release waits for.
    pub dst_finality: Finality,
}

fn rule_text(f: Finality) -> Result<String> {
    serde_json::to_string(&f).map_err(|e| Error::Corrupt(e.to_string()))
}

fn rule_of(text: &str) -> rusqlite::Result<Finality> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
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
        "INSERT OR IGNORE INTO bridge_obs
            (transfer_id, idx, bridge, ok, latency_ms, src_finality, dst_finality, at_ms)
         SELECT ?1, ?2, ?3, ?4,
                CASE WHEN ?4 = 1 AND started_ms IS NOT NULL THEN MAX(?5 - started_ms, 0) END,
                ?6, ?7, ?5
         FROM hop WHERE transfer_id = ?1 AND idx = ?2",
        params![
            id,
            i64::try_from(idx).unwrap_or(i64::MAX),
            plan.bridge,
            ok,
            now_ms,
            rule_text(plan.from.finality)?,
            rule_text(plan.to.finality)?,
        ],
    )?;
    Ok(())
}

impl Store {
    /// Observations after `seq` of hops that ended at or after
    /// `since_ms`, in log order.
    pub fn observations_after(&self, seq: i64, since_ms: u64) -> Result<Vec<Observation>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT seq, bridge, ok, latency_ms, src_finality, dst_finality, at_ms
             FROM bridge_obs WHERE seq > ?1 AND at_ms >= ?2 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map(
                params![seq, i64::try_from(since_ms).unwrap_or(i64::MAX)],
                |r| {
                    Ok(Observation {
                        seq: r.get(0)?,
                        bridge: r.get(1)?,
                        ok: r.get(2)?,
                        latency_ms: r
                            .get::<_, Option<i64>>(3)?
                            .and_then(|v| u64::try_from(v).ok()),
                        src_finality: rule_of(&r.get::<_, String>(4)?)?,
                        dst_finality: rule_of(&r.get::<_, String>(5)?)?,
                        at_ms: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Hops whose deposit was made and that are not released yet: waiting
    /// for liquidity, releasing, or being refunded (the bridge has not
    /// delivered them either), with their start. A hop still depositing is
    /// left out: its wait is the source lane's, not the bridge's.
    pub fn hops_in_flight(&self) -> Result<Vec<InFlight>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT plan, started_ms FROM hop
             WHERE state IN ({HOP_DEPOSITED}, {HOP_RELEASING}, {HOP_REFUNDING})
               AND started_ms IS NOT NULL"
        ))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(plan, started)| {
                let plan: HopPlan = serde_json::from_str(&plan)
                    .map_err(|e| Error::Corrupt(format!("hop plan: {e}")))?;
                Ok(InFlight {
                    bridge: plan.bridge,
                    started_ms: u64::try_from(started).unwrap_or(0),
                    src_finality: plan.from.finality,
                    dst_finality: plan.to.finality,
                })
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::HopEnd;
    use alloy::primitives::{Address, U256};

    fn plan(bridge: &str) -> HopPlan {
        let end = |chain_id, blocks| HopEnd {
            chain_id,
            escrow: Address::repeat_byte(1),
            token: Address::repeat_byte(2),
            finality: Finality::Blocks { blocks },
            vm: None,
        };
        HopPlan {
            bridge: bridge.into(),
            from: end(1, 2),
            to: end(2, 6),
            amount_in: U256::from(5u8),
            amount_out: U256::from(4u8),
            recipient: Address::repeat_byte(3),
            vm_recipient: None,
        }
    }

    /// Under way means the deposit was made and the bridge has not
    /// delivered: waiting for liquidity, releasing, refunding. Not a hop
    /// still depositing (the source lane's wait), not an ended one, not
    /// one without a recorded start. Ended hops are observed once, with
    /// their rules.
    #[test]
    fn hops_under_way_are_the_ones_the_bridge_owes() {
        let dir = std::env::temp_dir().join(format!("sy-observe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("s.db")).unwrap();
        {
            let conn = store.conn();
            conn.execute(
                "INSERT INTO transfer (id, idem_key, request, state, created_ms, updated_ms)
                 VALUES ('t', 'k', '{}', 'pending', 0, 0)",
                [],
            )
            .unwrap();
            let states = [
                ("depositing", Some(10)),
                ("deposited", Some(20)),
                ("releasing", Some(30)),
                ("refunding", Some(40)),
                ("done", Some(50)),
                ("releasing", None),
            ];
            for (i, (state, started)) in states.iter().enumerate() {
                let p = serde_json::to_string(&plan(&format!("b{i}"))).unwrap();
                conn.execute(
                    "INSERT INTO hop (transfer_id, idx, plan, state, started_ms) VALUES ('t', ?1, ?2, ?3, ?4)",
                    params![i as i64, p, state, started],
                )
                .unwrap();
            }
            record(&conn, "t", 4, &plan("b4"), true, 1_050).unwrap();
            record(&conn, "t", 4, &plan("b4"), true, 9_999).unwrap();
        }
        let mut under_way: Vec<(String, u64)> = store
            .hops_in_flight()
            .unwrap()
            .into_iter()
            .map(|h| (h.bridge, h.started_ms))
            .collect();
        under_way.sort();
        assert_eq!(
            under_way,
            vec![("b1".into(), 20), ("b2".into(), 30), ("b3".into(), 40)]
        );
        let seen = store.observations_after(0, 0).unwrap();
        assert_eq!(seen.len(), 1, "once: {seen:?}");
        assert_eq!(
            (
                seen[0].latency_ms,
                seen[0].src_finality,
                seen[0].dst_finality
            ),
            (
                Some(1_000),
                Finality::Blocks { blocks: 2 },
                Finality::Blocks { blocks: 6 }
            )
        );
        // The cursor: nothing after the last one, and the window's start.
        assert!(store.observations_after(seen[0].seq, 0).unwrap().is_empty());
        assert!(store.observations_after(0, 2_000).unwrap().is_empty());
        assert_eq!(store.forget_observations_before(2_000).unwrap(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
