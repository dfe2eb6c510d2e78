//! The payout outbox: every state change of a payout becomes an event,
//! durably, at least once.
//!
//! [`Outbox::collect`] finds items whose state differs from the last one
//! notified, marks them notified and, when a webhook is configured, queues
//! one delivery per event, all in one SQLite transaction. A crash before
//! the transaction commits repeats the events; after it, the deliveries are
//! on file and are retried until delivered or given up, each attempt
//! recorded.

use std::sync::Arc;

use rusqlite::params;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::payout::Payouts;
use crate::states::sql::{DELIVERY_DEAD, DELIVERY_DELIVERED, DELIVERY_PENDING};
use crate::store::Store;

/// A delivery due for sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Row id (also the `Switchyard-Event-Id` header).
    pub id: i64,
    /// JSON body, exactly as it is signed and sent.
    pub body: String,
    /// Attempts so far.
    pub attempts: u32,
}

/// A delivery as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeliveryView {
    /// Row id.
    pub id: i64,
    /// Payout id.
    pub payout_id: String,
    /// State the event reports.
    pub state: String,
    /// `pending`, `delivered` or `dead` (gave up).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// HTTP status of the last attempt, if it got one.
    pub last_status: Option<u16>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
}

/// The outbox.
#[derive(Clone, Debug)]
pub struct Outbox {
    store: Arc<Store>,
    webhook: bool,
}

fn now_ms() -> i64 {
    i64::try_from(switchyard_core::now_ms()).unwrap_or(i64::MAX)
}

impl Outbox {
    /// An outbox; `webhook` queues deliveries for every event.
    pub fn new(store: Arc<Store>, webhook: bool) -> Self {
        Self { store, webhook }
    }

    /// Up to `limit` new events (`{"event": "payout.updated", "payout":
    /// ...}`), oldest change first.
    pub fn collect(&self, payouts: &Payouts, limit: usize) -> Result<Vec<Value>> {
        let changed: Vec<(String, String)> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                "SELECT id, state FROM payout WHERE notified IS NOT state ORDER BY updated_ms, seq LIMIT ?1",
            )?;
            stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut events = Vec::with_capacity(changed.len());
        for (id, _) in &changed {
            if let Some(v) = payouts.get(id)? {
                events.push(json!({ "event": "payout.updated", "payout": v }));
            }
        }
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let now = now_ms();
        for ((id, state), ev) in changed.iter().zip(&events) {
            t.execute(
                "UPDATE payout SET notified = ?1 WHERE id = ?2",
                params![state, id],
            )?;
            if self.webhook {
                let body = serde_json::to_string(ev).map_err(|e| Error::Corrupt(e.to_string()))?;
                t.execute(
                    &format!("INSERT INTO delivery (payout_id, state, body, status, attempts, created_ms) VALUES (?1, ?2, ?3, {DELIVERY_PENDING}, 0, ?4)"),
                    params![id, state, body, now],
                )?;
            }
        }
        t.commit()?;
        Ok(events)
    }

    /// Pending deliveries, oldest first.
    pub fn due(&self, limit: usize) -> Result<Vec<Delivery>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            &format!("SELECT id, body, attempts FROM delivery WHERE status = {DELIVERY_PENDING} ORDER BY id LIMIT ?1"),
        )?;
        let rows = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(Delivery {
                    id: r.get(0)?,
                    body: r.get(1)?,
                    attempts: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Records one attempt: `Ok(status)` delivered, `Err` failed (with the
    /// HTTP status if there was one); `give_up` marks it dead.
    pub fn record(
        &self,
        id: i64,
        outcome: std::result::Result<u16, (Option<u16>, String)>,
        give_up: bool,
    ) -> Result<()> {
        let conn = self.store.conn();
        match outcome {
            Ok(status) => conn.execute(
                &format!("UPDATE delivery SET status = {DELIVERY_DELIVERED}, attempts = attempts + 1, last_status = ?1, last_error = NULL, delivered_ms = ?2 WHERE id = ?3"),
                params![status, now_ms(), id],
            )?,
            Err((status, error)) => conn.execute(
                &format!("UPDATE delivery SET status = CASE WHEN ?1 THEN {DELIVERY_DEAD} ELSE status END, attempts = attempts + 1, last_status = ?2, last_error = ?3 WHERE id = ?4"),
                params![give_up, status, error, id],
            )?,
        };
        Ok(())
    }

    /// Deliveries of one payout, in order.
    pub fn deliveries(&self, payout_id: &str) -> Result<Vec<DeliveryView>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT id, payout_id, state, status, attempts, last_status, last_error FROM delivery WHERE payout_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![payout_id], |r| {
                Ok(DeliveryView {
                    id: r.get(0)?,
                    payout_id: r.get(1)?,
                    state: r.get(2)?,
                    status: r.get(3)?,
                    attempts: r.get(4)?,
                    last_status: r.get(5)?,
                    last_error: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
