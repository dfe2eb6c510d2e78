//! A co-signer's own SQLite store: what it signed (one row per replay
//! fence), what that moved per recipient (its budgets' window), the
//! request nonces it has seen, and its audit log, a hash chain where each
//! entry commits to the one before it.
//!
//! A signature is written in the same transaction as its fence, its
//! budget use and its audit entry, and the answer leaves only after that
//! commits (`synchronous=FULL`): killed at any point, the co-signer has
//! either not signed (asked again, it decides again) or recorded the
//! signature it then returns for that fence, the same bytes.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use alloy::primitives::{B256, keccak256};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::policy::{Moves, Refusal, show};

/// One request as the store decides it: what is signed, under which
/// fence, counted against which budgets.
#[derive(Clone, Debug)]
pub struct Ask {
    /// The request's one-time nonce.
    pub nonce: B256,
    /// When it was issued, Unix ms.
    pub issued_ms: u64,
    /// Its replay fence: one content per fence, ever.
    pub fence: String,
    /// What kind of message it is (audit).
    pub kind: &'static str,
    /// The budgets' key: an EIP-155 chain id, or a vault chain's bridge
    /// domain.
    pub chain_key: u64,
    /// The content without what may change between two signatures of it.
    pub substance: String,
    /// The exact message signed.
    pub message: String,
    /// Until when the signature is valid, Unix s, if it expires.
    pub deadline: Option<u64>,
    /// The same content may be signed again in another message (a Solana
    /// release under a new blockhash), counted once while that count is in
    /// the window: the chain executes at most one of them (the release's
    /// receipt).
    pub resign: bool,
    /// What the audit entries say of it besides its kind (what it pays, a
    /// digest of the exact message); empty for attestations, whose
    /// message is stored whole.
    pub about: String,
}

impl Ask {
    fn note(&self) -> String {
        if self.about.is_empty() {
            String::new()
        } else {
            format!(" [{}]", self.about)
        }
    }
}

/// The windowed budgets a request is counted against.
#[derive(Clone, Copy, Debug)]
pub struct Limits<'a> {
    /// Chain name (reasons).
    pub id: &'a str,
    /// Most per recipient per window, micro-USD.
    pub max_recipient: u128,
    /// Most per window, micro-USD.
    pub budget: u128,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS signed (
    fence      TEXT PRIMARY KEY,
    kind       TEXT    NOT NULL,
    chain_id   INTEGER NOT NULL,
    -- The message without its deadline: one content per fence, ever.
    substance  TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    deadline   INTEGER,
    signature  BLOB    NOT NULL,
    usd_micro  INTEGER NOT NULL,
    signed_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS flow (
    fence     TEXT    NOT NULL REFERENCES signed (fence),
    chain_id  INTEGER NOT NULL,
    recipient TEXT    NOT NULL,
    usd_micro INTEGER NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS flow_chain ON flow (chain_id, at_ms);
CREATE INDEX IF NOT EXISTS flow_recipient ON flow (chain_id, recipient, at_ms);
CREATE TABLE IF NOT EXISTS seen (
    nonce     BLOB PRIMARY KEY,
    issued_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    outcome TEXT    NOT NULL,
    rule    TEXT,
    detail  TEXT    NOT NULL,
    fence   TEXT,
    nonce   TEXT,
    prev    BLOB    NOT NULL,
    hash    BLOB    NOT NULL
);
";

/// The store.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Position, from 1.
    pub seq: i64,
    /// Unix ms.
    pub at_ms: i64,
    /// `signed`, `resigned` (the same fence, same content) or `refused`.
    pub outcome: String,
    /// The refusal's rule.
    pub rule: Option<String>,
    /// What was asked and why it was answered so.
    pub detail: String,
    /// The message's fence, when it was read.
    pub fence: Option<String>,
    /// The request's nonce, when it was read.
    pub nonce: Option<String>,
    /// Hash of this entry, chained to the previous one.
    pub hash: String,
}

fn i64_of(v: u128) -> Result<i64, Refusal> {
    i64::try_from(v).map_err(|_| Refusal::new("amount", "too large to count"))
}

fn store_err(e: rusqlite::Error) -> Refusal {
    Refusal::new("store", format!("the co-signer's store failed: {e}"))
}

fn entry_hash(
    prev: &[u8],
    at_ms: i64,
    outcome: &str,
    rule: Option<&str>,
    detail: &str,
    fence: Option<&str>,
    nonce: Option<&str>,
) -> B256 {
    let text = serde_json::json!([at_ms, outcome, rule, detail, fence, nonce]).to_string();
    let mut buf = prev.to_vec();
    buf.extend_from_slice(text.as_bytes());
    keccak256(buf)
}

/// Audits a fence answered again (`resigned`) and commits `t`.
fn resigned(
    t: Transaction<'_>,
    at: i64,
    what: &str,
    fence: &str,
    nonce: &str,
) -> Result<(), Refusal> {
    append(&t, at, "resigned", None, what, Some(fence), Some(nonce)).map_err(store_err)?;
    t.commit().map_err(store_err)
}

/// Appends an audit entry inside `t`.
fn append(
    t: &Transaction<'_>,
    now_ms: i64,
    outcome: &str,
    rule: Option<&str>,
    detail: &str,
    fence: Option<&str>,
    nonce: Option<&str>,
) -> rusqlite::Result<()> {
    let prev: Vec<u8> = t
        .query_row(
            "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or_else(|| vec![0u8; 32]);
    let hash = entry_hash(&prev, now_ms, outcome, rule, detail, fence, nonce);
    t.execute(
        "INSERT INTO audit (at_ms, outcome, rule, detail, fence, nonce, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![now_ms, outcome, rule, detail, fence, nonce, prev, hash.to_vec()],
    )?;
    Ok(())
}

/// Records the request's nonce as seen: `false` if it was already.
fn use_nonce(t: &Transaction<'_>, req: &Ask) -> rusqlite::Result<bool> {
    let n = t.execute(
        "INSERT OR IGNORE INTO seen (nonce, issued_ms) VALUES (?1, ?2)",
        params![
            req.nonce.to_vec(),
            i64::try_from(req.issued_ms).unwrap_or(i64::MAX)
        ],
    )?;
    Ok(n == 1)
}

/// How a request was answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signed {
    /// Newly signed.
    New(Vec<u8>),
    /// The fence was signed before with this very content: the recorded
    /// signature (a retry, or a restart after answering was cut short).
    Again(Vec<u8>),
}

impl Store {
    /// Opens or creates the store.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(d);
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides and records a request that passed authentication and the
    /// policy's stateless checks, in one transaction: the nonce is used
    /// up, the fence is signed at most once per content, the windowed
    /// budgets hold, then `sign` runs and its signature is recorded with
    /// the audit entry. A refusal is audited (and its nonce used up) in a
    /// transaction of its own.
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &self,
        req: &Ask,
        chain: &Limits<'_>,
        moves: &Moves,
        window_ms: u64,
        now_ms: u64,
        sign: impl FnOnce() -> Result<Vec<u8>, Refusal>,
    ) -> Result<Signed, Refusal> {
        let mut conn = self.conn();
        let outcome = Self::decide_in(&mut conn, req, chain, moves, window_ms, now_ms, sign);
        if let Err(r) = &outcome {
            Self::refuse_in(&mut conn, req, r, now_ms)?;
        }
        outcome
    }

    /// Audits a refusal of a request that was read, using up its nonce.
    pub fn refuse(&self, req: &Ask, r: &Refusal, now_ms: u64) -> Result<(), Refusal> {
        Self::refuse_in(&mut self.conn(), req, r, now_ms)
    }

    fn refuse_in(
        conn: &mut Connection,
        req: &Ask,
        r: &Refusal,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        let fence = &req.fence;
        let nonce = req.nonce.to_string();
        let at = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let t = conn.transaction().map_err(store_err)?;
        use_nonce(&t, req).map_err(store_err)?;
        append(
            &t,
            at,
            "refused",
            Some(r.rule),
            &format!("{}: {}{}", req.kind, r.detail, req.note()),
            Some(fence),
            Some(&nonce),
        )
        .map_err(store_err)?;
        t.commit().map_err(store_err)
    }

    /// Whether a request nonce was seen before.
    pub fn seen(&self, nonce: &B256) -> Result<bool, Refusal> {
        self.conn()
            .query_row(
                "SELECT 1 FROM seen WHERE nonce = ?1",
                params![nonce.to_vec()],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(store_err)
    }

    #[allow(clippy::too_many_arguments)]
    fn decide_in(
        conn: &mut Connection,
        req: &Ask,
        chain: &Limits<'_>,
        moves: &Moves,
        window_ms: u64,
        now_ms: u64,
        sign: impl FnOnce() -> Result<Vec<u8>, Refusal>,
    ) -> Result<Signed, Refusal> {
        let fence = &req.fence;
        let key = i64::try_from(req.chain_key).unwrap_or(i64::MAX);
        let at = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let t = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(store_err)?;
        if !use_nonce(&t, req).map_err(store_err)? {
            return Err(Refusal::new(
                "replay",
                format!("nonce {} was used before", req.nonce),
            ));
        }
        let (substance, message) = (&req.substance, &req.message);
        let deadline = req.deadline.map(|d| i64::try_from(d).unwrap_or(i64::MAX));
        let before: Option<(String, String, Option<i64>, Vec<u8>)> = t
            .query_row(
                "SELECT substance, message, deadline, signature FROM signed WHERE fence = ?1",
                params![fence],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(store_err)?;
        let nonce = req.nonce.to_string();
        let renewed = if let Some((was, old_message, old_deadline, sig)) = before {
            if was != *substance {
                return Err(Refusal::new(
                    "fence",
                    format!("{fence} was signed before with other content; one content per fence"),
                ));
            }
            if old_deadline == deadline && (!req.resign || old_message == *message) {
                let what = format!(
                    "{}: the signature recorded for this fence{}",
                    req.kind,
                    req.note()
                );
                resigned(t, at, &what, fence, &nonce)?;
                return Ok(Signed::Again(sig));
            }
            // The same content in a new message: signed, not counted again
            // (at most one of them can execute), while its count is in the
            // window; once it has left, counted again as new (else
            // signatures gathered over many windows could all be renewed at
            // once, past every budget).
            let since = at.saturating_sub(i64::try_from(window_ms).unwrap_or(i64::MAX));
            let counted_at: Option<i64> = t
                .query_row(
                    "SELECT MAX(at_ms) FROM flow WHERE fence = ?1",
                    params![fence],
                    |r| r.get(0),
                )
                .map_err(store_err)?;
            if req.resign && counted_at.is_some_and(|c| c > since) {
                let sig = sign()?;
                t.execute(
                    "UPDATE signed SET message = ?1, signature = ?2, signed_ms = ?3 WHERE fence = ?4",
                    params![message, sig, at, fence],
                )
                .map_err(store_err)?;
                let what = format!(
                    "{}: the same content in a new message; the chain executes at most one{}",
                    req.kind,
                    req.note()
                );
                resigned(t, at, &what, fence, &nonce)?;
                return Ok(Signed::New(sig));
            }
            // The same content under a new deadline: only once the one
            // signed before has expired, so at most one is ever live.
            let now_s = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
            if old_deadline.is_some_and(|d| d >= now_s) {
                return Err(Refusal::new(
                    "fence",
                    format!(
                        "{fence} has a signature valid until {} (now {now_s}); a new deadline only after it expires",
                        old_deadline.unwrap_or_default()
                    ),
                ));
            }
            // Counted again below, as new: the window and the caps apply
            // to the renewal, and its use is dated now.
            Some(old_deadline.unwrap_or_default())
        } else {
            None
        };
        let renewal = renewed.is_some();
        let since = at.saturating_sub(i64::try_from(window_ms).unwrap_or(i64::MAX));
        if moves.total > 0 {
            let used: i64 = t
                .query_row(
                    "SELECT COALESCE(SUM(usd_micro), 0) FROM flow WHERE chain_id = ?1 AND at_ms > ?2 AND fence != ?3",
                    params![key, since, fence],
                    |r| r.get(0),
                )
                .map_err(store_err)?;
            let used = u128::try_from(used).unwrap_or(0);
            if used.saturating_add(moves.total) > chain.budget {
                return Err(Refusal::new(
                    "budget",
                    format!(
                        "{} USD on {} would pass its budget of {} USD per window ({} used)",
                        show(moves.total),
                        chain.id,
                        show(chain.budget),
                        show(used)
                    ),
                ));
            }
            for (to, usd) in &moves.per_recipient {
                if moves.own.contains(to) {
                    continue;
                }
                let got: i64 = t
                    .query_row(
                        "SELECT COALESCE(SUM(usd_micro), 0) FROM flow WHERE chain_id = ?1 AND recipient = ?2 AND at_ms > ?3 AND fence != ?4",
                        params![key, to, since, fence],
                        |r| r.get(0),
                    )
                    .map_err(store_err)?;
                let got = u128::try_from(got).unwrap_or(0);
                if got.saturating_add(*usd) > chain.max_recipient {
                    return Err(Refusal::new(
                        "recipient_cap",
                        format!(
                            "{} USD more to {to} would pass the cap of {} USD per recipient per window ({} signed)",
                            show(*usd),
                            show(chain.max_recipient),
                            show(got)
                        ),
                    ));
                }
            }
        }
        let sig = sign()?;
        if renewal {
            t.execute(
                "UPDATE signed SET message = ?1, deadline = ?2, signature = ?3, signed_ms = ?4 WHERE fence = ?5",
                params![message, deadline, sig, at, fence],
            )
            .map_err(store_err)?;
            t.execute("DELETE FROM flow WHERE fence = ?1", params![fence])
                .map_err(store_err)?;
        } else {
            t.execute(
                "INSERT INTO signed (fence, kind, chain_id, substance, message, deadline, signature, usd_micro, signed_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![fence, req.kind, key, substance, message, deadline, sig, i64_of(moves.total)?, at],
            )
            .map_err(store_err)?;
        }
        for (to, usd) in &moves.per_recipient {
            t.execute(
                "INSERT INTO flow (fence, chain_id, recipient, usd_micro, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![fence, key, to, i64_of(*usd)?, at],
            )
            .map_err(store_err)?;
        }
        append(
            &t,
            at,
            "signed",
            None,
            &format!(
                "{}: {} USD to {} recipient(s){}{}",
                req.kind,
                show(moves.total),
                moves.per_recipient.len(),
                match renewed {
                    Some(_) if req.resign => {
                        "; signed again in a new message, counted again (its last count left the window)".to_owned()
                    }
                    Some(d) => format!("; renewed after deadline {d} expired"),
                    None => String::new(),
                },
                req.note()
            ),
            Some(fence),
            Some(&nonce),
        )
        .map_err(store_err)?;
        t.commit().map_err(store_err)?;
        Ok(Signed::New(sig))
    }

    /// Audits a request refused before it could be decided (its
    /// authentication, audience or age).
    pub fn refuse_unread(
        &self,
        now_ms: u64,
        r: &Refusal,
        fence: Option<&str>,
    ) -> Result<(), Refusal> {
        let mut conn = self.conn();
        let t = conn.transaction().map_err(store_err)?;
        let detail: String = r.detail.chars().take(300).collect();
        append(
            &t,
            i64::try_from(now_ms).unwrap_or(i64::MAX),
            "refused",
            Some(r.rule),
            &detail,
            fence,
            None,
        )
        .map_err(store_err)?;
        t.commit().map_err(store_err)
    }

    /// Forgets nonces issued before `before_ms` (requests that old are
    /// refused as stale anyway).
    pub fn prune_nonces(&self, before_ms: u64) -> rusqlite::Result<usize> {
        self.conn().execute(
            "DELETE FROM seen WHERE issued_ms < ?1",
            params![i64::try_from(before_ms).unwrap_or(i64::MAX)],
        )
    }

    /// The audit log from `after` (exclusive), at most `limit` entries.
    pub fn audit(&self, after: i64, limit: i64) -> rusqlite::Result<Vec<AuditEntry>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT seq, at_ms, outcome, rule, detail, fence, nonce, hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = st.query_map(params![after, limit], |r| {
            let h: Vec<u8> = r.get(7)?;
            Ok(AuditEntry {
                seq: r.get(0)?,
                at_ms: r.get(1)?,
                outcome: r.get(2)?,
                rule: r.get(3)?,
                detail: r.get(4)?,
                fence: r.get(5)?,
                nonce: r.get(6)?,
                hash: format!(
                    "0x{}",
                    h.iter().map(|b| format!("{b:02x}")).collect::<String>()
                ),
            })
        })?;
        rows.collect()
    }

    /// Checks the whole hash chain: `Ok(n)` entries, or the first entry
    /// that does not follow from the one before.
    pub fn verify(&self) -> rusqlite::Result<Result<i64, i64>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT seq, at_ms, outcome, rule, detail, fence, nonce, prev, hash FROM audit ORDER BY seq",
        )?;
        let mut rows = st.query([])?;
        let mut prev = vec![0u8; 32];
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let (p, h): (Vec<u8>, Vec<u8>) = (r.get(7)?, r.get(8)?);
            let want = entry_hash(
                &prev,
                r.get(1)?,
                &r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?.as_deref(),
                &r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?.as_deref(),
                r.get::<_, Option<String>>(6)?.as_deref(),
            );
            if p != prev || h != want.to_vec() {
                return Ok(Err(seq));
            }
            prev = h;
            n += 1;
        }
        Ok(Ok(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ChainPolicy;
    use crate::request::SignRequest;
    use alloy::primitives::{Address, U256};
    use switchyard_core::attest::{Attestation, PayoutItem};

    fn chain() -> ChainPolicy {
        ChainPolicy {
            id: "devnet-a".into(),
            chain_id: 1,
            batchers: vec![Address::repeat_byte(0xba)],
            escrows: vec![],
            treasuries: vec![],
            tokens: [(Address::repeat_byte(0x70), 6)].into(),
            max_batch_items: 10,
            max_item: 1_000_000_000,
            max_recipient: 1_000_000_000,
            budget: 100_000_000, // 100 USD per window
        }
    }

    fn req(id: u8, deadline: u64, nonce: u8) -> SignRequest {
        SignRequest {
            cosigner: Address::ZERO,
            issued_ms: 0,
            nonce: B256::repeat_byte(nonce),
            message: Attestation::PayoutBatch {
                chain_id: 1,
                batcher: Address::repeat_byte(0xba),
                batch_id: B256::repeat_byte(id),
                token: Address::repeat_byte(0x70),
                payouts: vec![PayoutItem {
                    to: Address::repeat_byte(id),
                    amount: U256::from(80_000_000u64),
                }],
                deadline,
            },
            auth: Default::default(),
        }
    }

    fn moves(r: &SignRequest) -> Moves {
        crate::policy::Policy::parse(
            "listen = \"x\"\nstore = \"s\"\nkeystore = \"k\"\ndaemons = [\"0x0000000000000000000000000000000000000001\"]\n[[chain]]\nid = \"devnet-a\"\nchain_id = 1\nbatchers = [\"0xbabababababababababababababababababababa\"]\ntokens = [{ address = \"0x7070707070707070707070707070707070707070\", decimals = 6 }]\nmax_batch_items = 10\nmax_item_usd = 1000\nmax_recipient_usd = 1000\nbudget_usd = 100\n",
            Path::new("."),
        )
        .unwrap()
        .check(&r.message, &Default::default(), 0)
        .unwrap()
    }

    fn sign_ok() -> Result<Vec<u8>, Refusal> {
        Ok(vec![7; 65])
    }

    #[test]
    fn a_renewed_deadline_counts_against_the_window_again() {
        let dir = std::env::temp_dir().join(format!("sy-cosigner-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir.join("c.db")).unwrap();
        let c = chain();
        let window = 10_000;
        // 80 USD under fence A at t=0 s, valid until 2 s.
        let a = req(1, 2, 1);
        assert!(matches!(
            s.decide(
                &a.ask().unwrap(),
                &c.limits(),
                &moves(&a),
                window,
                0,
                sign_ok
            ),
            Ok(Signed::New(_))
        ));
        // The window slides past A: 80 USD under fence B fits.
        let b = req(2, 100, 2);
        assert!(matches!(
            s.decide(
                &b.ask().unwrap(),
                &c.limits(),
                &moves(&b),
                window,
                20_000,
                sign_ok
            ),
            Ok(Signed::New(_))
        ));
        // A again with a new deadline: 160 in the window, over 100.
        let a2 = req(1, 100, 3);
        let r = s
            .decide(
                &a2.ask().unwrap(),
                &c.limits(),
                &moves(&a2),
                window,
                21_000,
                sign_ok,
            )
            .unwrap_err();
        assert_eq!(r.rule, "budget", "{r}");
        // Once B leaves the window, the renewal fits, and counts from now.
        let a3 = req(1, 100, 4);
        assert!(matches!(
            s.decide(
                &a3.ask().unwrap(),
                &c.limits(),
                &moves(&a3),
                window,
                40_000,
                sign_ok
            ),
            Ok(Signed::New(_))
        ));
        let b2 = req(3, 100, 5);
        let r = s
            .decide(
                &b2.ask().unwrap(),
                &c.limits(),
                &moves(&b2),
                window,
                41_000,
                sign_ok,
            )
            .unwrap_err();
        assert_eq!(r.rule, "budget", "the renewal is counted at 40 s: {r}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_recorded_signature_is_returned_byte_for_byte() {
        let dir = std::env::temp_dir().join(format!("sy-cosigner-again-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("c.db");
        let a = req(9, 100, 1);
        let first = Store::open(&path)
            .unwrap()
            .decide(
                &a.ask().unwrap(),
                &chain().limits(),
                &moves(&a),
                10_000,
                0,
                sign_ok,
            )
            .unwrap();
        // Reopened (a restart after the answer was lost): the same bytes,
        // without signing again.
        let again = req(9, 100, 2);
        let second = Store::open(&path)
            .unwrap()
            .decide(
                &again.ask().unwrap(),
                &chain().limits(),
                &moves(&again),
                10_000,
                1,
                || Err(Refusal::new("key", "must not sign again")),
            )
            .unwrap();
        assert_eq!(first, Signed::New(vec![7; 65]));
        assert_eq!(second, Signed::Again(vec![7; 65]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
