//! Operator state: pauses of chains and bridges, and the append-only,
//! hash-chained audit log of every operator action.
//!
//! Each audit entry's hash is SHA-256 over the previous entry's hash and
//! the entry's own fields (JSON array, so no field can bleed into the
//! next); the first entry chains from 32 zero bytes. Editing, deleting or
//! reordering any row breaks every hash after it, which
//! [`Ops::verify_audit`] reports with the first bad sequence number.

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::store::Store;

/// A pause in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Pause {
    /// `chain` or `bridge`.
    pub kind: String,
    /// Chain or bridge id.
    pub target: String,
    /// Why.
    pub reason: String,
    /// Who.
    pub actor: String,
    /// When, unix ms.
    pub at_ms: i64,
}

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Sequence number, from 1.
    pub seq: i64,
    /// When, unix ms.
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// What (`pause`, `resume`, ...).
    pub action: String,
    /// On what (`chain:devnet-b`, `bridge:escrow-a-b`, ...).
    pub target: String,
    /// Why.
    pub reason: String,
    /// This entry's hash, hex.
    pub hash: String,
}

/// Pauses and the audit log.
#[derive(Clone, Debug)]
pub struct Ops {
    store: Arc<Store>,
}

fn now_ms() -> i64 {
    i64::try_from(switchyard_core::now_ms()).unwrap_or(i64::MAX)
}

fn entry_hash(prev: &[u8], e: &AuditEntry) -> Vec<u8> {
    let fields = serde_json::json!([e.seq, e.at_ms, e.actor, e.action, e.target, e.reason]);
    let mut h = Sha256::new();
    h.update(prev);
    h.update(fields.to_string().as_bytes());
    h.finalize().to_vec()
}

impl Ops {
    /// Operator state in `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }

    /// Appends an entry inside the caller's transaction, so an action and
    /// its audit entry commit together or not at all.
    pub(crate) fn append(
        t: &rusqlite::Transaction<'_>,
        actor: &str,
        action: &str,
        target: &str,
        reason: &str,
    ) -> Result<AuditEntry> {
        let last: Option<(i64, Vec<u8>)> = t
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (seq, prev) = match last {
            Some((s, h)) => (s + 1, h),
            None => (1, vec![0u8; 32]),
        };
        let mut e = AuditEntry {
            seq,
            at_ms: now_ms(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            reason: reason.to_owned(),
            hash: String::new(),
        };
        let hash = entry_hash(&prev, &e);
        t.execute(
            "INSERT INTO audit (seq, at_ms, actor, action, target, reason, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![e.seq, e.at_ms, e.actor, e.action, e.target, e.reason, hash],
        )?;
        e.hash = hex(&hash);
        Ok(e)
    }

    /// Records an operator action that changes nothing else (approvals,
    /// key changes, ...).
    pub fn record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        reason: &str,
    ) -> Result<AuditEntry> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let e = Self::append(&t, actor, action, target, reason)?;
        t.commit()?;
        Ok(e)
    }

    /// Pauses `kind:target` (replacing an earlier pause's reason) and
    /// audits it, in one SQLite transaction.
    pub fn pause(&self, kind: &str, target: &str, reason: &str, actor: &str) -> Result<AuditEntry> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        t.execute(
            "INSERT INTO pause (kind, target, reason, actor, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, target) DO UPDATE SET reason = excluded.reason, actor = excluded.actor, at_ms = excluded.at_ms",
            params![kind, target, reason, actor, now_ms()],
        )?;
        let e = Self::append(&t, actor, "pause", &format!("{kind}:{target}"), reason)?;
        t.commit()?;
        Ok(e)
    }

    /// Lifts a pause and audits it. `Ok(None)`: it was not paused.
    pub fn resume(
        &self,
        kind: &str,
        target: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Option<AuditEntry>> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let n = t.execute(
            "DELETE FROM pause WHERE kind = ?1 AND target = ?2",
            params![kind, target],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let e = Self::append(&t, actor, "resume", &format!("{kind}:{target}"), reason)?;
        t.commit()?;
        Ok(Some(e))
    }

    /// Pauses in force.
    pub fn pauses(&self) -> Result<Vec<Pause>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT kind, target, reason, actor, at_ms FROM pause ORDER BY kind, target",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Pause {
                    kind: r.get(0)?,
                    target: r.get(1)?,
                    reason: r.get(2)?,
                    actor: r.get(3)?,
                    at_ms: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Audit entries after `after`, oldest first, at most `limit`.
    pub fn audit(&self, after: i64, limit: usize) -> Result<Vec<AuditEntry>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT seq, at_ms, actor, action, target, reason, hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(
                params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    Ok(AuditEntry {
                        seq: r.get(0)?,
                        at_ms: r.get(1)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        target: r.get(4)?,
                        reason: r.get(5)?,
                        hash: hex(&r.get::<_, Vec<u8>>(6)?),
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Recomputes the whole chain. `Ok(None)`: intact; `Ok(Some(seq))`:
    /// the first entry whose hash or sequence does not follow.
    pub fn verify_audit(&self) -> Result<Option<i64>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT seq, at_ms, actor, action, target, reason, hash FROM audit ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut prev = vec![0u8; 32];
        let mut expect = 1i64;
        while let Some(r) = rows.next()? {
            let e = AuditEntry {
                seq: r.get(0)?,
                at_ms: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                reason: r.get(5)?,
                hash: String::new(),
            };
            let stored: Vec<u8> = r.get(6)?;
            if e.seq != expect || entry_hash(&prev, &e) != stored {
                return Ok(Some(e.seq));
            }
            prev = stored;
            expect += 1;
        }
        Ok(None)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
