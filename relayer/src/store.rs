//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a committed write survives a crash of the process or the machine.
//! All access goes through one connection behind a mutex; calls are short
//! and never held across an await.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 7;

/// From version 2: lanes halt on foreign sends and adopt a key's history
/// once; rows record their last error; items record the transaction that
/// paid them and operator admissions past the governor; batches record
/// where to look for their use on chain and why they were voided; hops
/// retry releases and can be refunded.
const MIGRATE_2_TO_3: &str = "
ALTER TABLE lane ADD COLUMN halted TEXT;
ALTER TABLE lane ADD COLUMN adopted INTEGER NOT NULL DEFAULT 1;
ALTER TABLE lane ADD COLUMN resumed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE lane ADD COLUMN forgive_below INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tx ADD COLUMN last_error TEXT;
ALTER TABLE tx ADD COLUMN fence_kind TEXT;
ALTER TABLE tx ADD COLUMN fence_tx BLOB;
ALTER TABLE tx ADD COLUMN fence_block INTEGER;
ALTER TABLE tx ADD COLUMN fence_hash BLOB;
ALTER TABLE payout ADD COLUMN voids INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payout_batch ADD COLUMN used_tx BLOB;
ALTER TABLE payout_batch ADD COLUMN used_block INTEGER;
ALTER TABLE payout_batch ADD COLUMN used_hash BLOB;
ALTER TABLE payout ADD COLUMN paid_tx TEXT;
ALTER TABLE payout ADD COLUMN paid_block INTEGER;
ALTER TABLE payout ADD COLUMN gov_override INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payout_batch ADD COLUMN from_block INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payout_batch ADD COLUMN reason TEXT;
ALTER TABLE payout_batch ADD COLUMN offenders TEXT;
ALTER TABLE hop ADD COLUMN release_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hop ADD COLUMN since_ms INTEGER;
ALTER TABLE hop ADD COLUMN note TEXT;
ALTER TABLE hop ADD COLUMN refund_reason TEXT;
";

/// From version 3: hops record when their deposit was reserved, and every
/// ended hop leaves an observation of its bridge (`bridge_obs`, created
/// by [`SCHEMA`]).
const MIGRATE_3_TO_4: &str = "
ALTER TABLE hop ADD COLUMN started_ms INTEGER;
";

/// From version 4: a hop records the deadline of the release it asks the
/// signer set for before asking, so a crash between asking and reserving
/// asks again for the very same release; a transfer records who submitted
/// it and who approved it (large ones wait for a second operator).
const MIGRATE_4_TO_5: &str = "
ALTER TABLE hop ADD COLUMN release_deadline INTEGER;
ALTER TABLE hop ADD COLUMN deposit_deadline INTEGER;
ALTER TABLE transfer ADD COLUMN submitted_by TEXT;
ALTER TABLE transfer ADD COLUMN approved_by TEXT;
";

/// From version 5: the chain-agnostic lane's intents and attempts
/// (`vm_intent`, `vm_attempt`) are new tables, created with the schema.
const MIGRATE_5_TO_6: &str = "";

/// From version 6: payouts and their batches name their chain by its
/// topology name (`chain`), so a chain without an EVM chain id (Solana)
/// is paid like any other; `chain_id` is 0 there. Rows written before
/// were EVM payouts and keep `chain` NULL: their `chain_id` names them.
const MIGRATE_6_TO_7: &str = "
ALTER TABLE payout ADD COLUMN chain TEXT;
ALTER TABLE payout_batch ADD COLUMN chain TEXT;
";

const SCHEMA: &str = "
-- The chain-agnostic lane (relayer/src/vmlane): one row per intent of a
-- (chain, sender) lane, keyed by the chain's name in the topology; what it
-- executes is the VM adapter's own encoding (payload).
CREATE TABLE IF NOT EXISTS vm_intent (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    chain        TEXT    NOT NULL,
    sender       TEXT    NOT NULL,
    intent       TEXT    NOT NULL,
    payload      BLOB    NOT NULL,
    state        TEXT    NOT NULL,
    -- The attempt in a block, its block, and whether it executed.
    attempt_id   INTEGER,
    block_number INTEGER,
    block_hash   BLOB,
    success      INTEGER,
    why_dead     TEXT,
    last_error   TEXT,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    UNIQUE (chain, sender, intent)
);
CREATE INDEX IF NOT EXISTS vm_intent_open ON vm_intent (chain, sender, state);
-- Every signed attempt of an intent, with its replay fence: a new fence is
-- used only once every earlier attempt is proven dead.
CREATE TABLE IF NOT EXISTS vm_attempt (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    intent_id   INTEGER NOT NULL REFERENCES vm_intent (id),
    fence       BLOB    NOT NULL,
    valid_until INTEGER,
    tx_id       BLOB    NOT NULL UNIQUE,
    raw         BLOB    NOT NULL,
    max_cost    TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    dead_proof  TEXT,
    sent_ms     INTEGER,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS vm_attempt_intent ON vm_attempt (intent_id);
CREATE TABLE IF NOT EXISTS lane (
    chain_id      INTEGER NOT NULL,
    sender        TEXT    NOT NULL,
    next_nonce    INTEGER NOT NULL,
    -- Why the lane sends nothing (a foreign send from its key), if it does not.
    halted        TEXT,
    -- The key's history on chain was taken over (first tick of a new lane).
    adopted       INTEGER NOT NULL DEFAULT 1,
    -- An operator resumed it: the next tick takes the chain's nonce as history.
    resumed       INTEGER NOT NULL DEFAULT 0,
    -- Nonces below this used by other processes are history, not foreign.
    forgive_below INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chain_id, sender)
);
-- One row per intent: the transaction of a lane that carries it, through
-- every attempt (replacement) until it is final.
CREATE TABLE IF NOT EXISTS tx (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    chain_id     INTEGER NOT NULL,
    sender       TEXT    NOT NULL,
    intent       TEXT    NOT NULL,
    nonce        INTEGER NOT NULL,
    to_addr      TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    value        TEXT    NOT NULL,
    gas_limit    INTEGER,
    finality     TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    cancelled    TEXT,
    reverted     INTEGER NOT NULL DEFAULT 0,
    hash         BLOB,
    raw          BLOB,
    max_fee      TEXT,
    tip          TEXT,
    sent_head    INTEGER,
    block_number INTEGER,
    block_hash   BLOB,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    last_error   TEXT,
    -- Who used this row's nonce, found while recent (ours, same call,
    -- foreign): kept until its block is final, or leaves the chain.
    fence_kind   TEXT,
    fence_tx     BLOB,
    fence_block  INTEGER,
    fence_hash   BLOB,
    UNIQUE (chain_id, sender, intent)
);
CREATE INDEX IF NOT EXISTS tx_lane_state ON tx (chain_id, sender, state, nonce);
-- Every signed attempt, kept after replacement: any of them may be the one
-- that is mined.
CREATE TABLE IF NOT EXISTS attempt (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_id      INTEGER NOT NULL REFERENCES tx (id),
    nonce      INTEGER NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    raw        BLOB    NOT NULL,
    max_fee    TEXT    NOT NULL,
    tip        TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS attempt_tx ON attempt (tx_id);
-- Transfers across bridges, one row per idempotency key, and their hops.
CREATE TABLE IF NOT EXISTS transfer (
    id         TEXT    PRIMARY KEY,
    idem_key   TEXT    NOT NULL UNIQUE,
    request    TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    error      TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    -- The operator who submitted it, when it waits for a second one.
    submitted_by TEXT,
    approved_by  TEXT
);
CREATE INDEX IF NOT EXISTS transfer_state ON transfer (state, created_ms);

CREATE TABLE IF NOT EXISTS hop (
    transfer_id TEXT    NOT NULL REFERENCES transfer (id),
    idx         INTEGER NOT NULL,
    plan        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    deposit_id  BLOB,
    -- Releases reserved for this deposit so far (each may be refused while
    -- the destination escrow is short; the escrow pays one at most).
    release_seq   INTEGER NOT NULL DEFAULT 0,
    -- Since when the hop waits (for liquidity, or to be refundable).
    since_ms      INTEGER,
    note          TEXT,
    refund_reason TEXT,
    -- When its deposit was reserved (the start of its latency).
    started_ms    INTEGER,
    -- Deadline of release `release_seq`, written before it is signed.
    release_deadline INTEGER,
    -- Deadline of its treasury deposit, written before it is signed.
    deposit_deadline INTEGER,
    PRIMARY KEY (transfer_id, idx)
);
-- Hops under way, read every second for the bridges' observed health.
CREATE INDEX IF NOT EXISTS hop_state ON hop (state);
-- What each ended hop showed about its bridge: written in the transaction
-- that ends the hop, so a hop is observed once, crash or not.
CREATE TABLE IF NOT EXISTS bridge_obs (
    -- Never reused (AUTOINCREMENT), so readers can follow it as a cursor.
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    transfer_id TEXT    NOT NULL,
    idx         INTEGER NOT NULL,
    bridge      TEXT    NOT NULL,
    ok          INTEGER NOT NULL,
    -- Deposit reserved to release final, when both are known.
    latency_ms  INTEGER,
    -- The finality rules the hop waited for at each end (JSON).
    src_finality TEXT   NOT NULL,
    dst_finality TEXT   NOT NULL,
    at_ms       INTEGER NOT NULL,
    UNIQUE (transfer_id, idx)
);
CREATE INDEX IF NOT EXISTS bridge_obs_at ON bridge_obs (at_ms);
-- Merchant payouts: the request (idempotency key and body hash), its
-- items, and the batches they are paid in.
CREATE TABLE IF NOT EXISTS payout_request (
    key        TEXT    PRIMARY KEY,
    body_hash  BLOB    NOT NULL,
    items      INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS payout (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    request_key TEXT    NOT NULL REFERENCES payout_request (key),
    idx         INTEGER NOT NULL,
    asset       TEXT    NOT NULL,
    chain_id    INTEGER NOT NULL,
    token       TEXT    NOT NULL,
    recipient   TEXT    NOT NULL,
    amount      TEXT    NOT NULL,
    finality    TEXT    NOT NULL,
    memo        TEXT,
    state       TEXT    NOT NULL,
    reason      TEXT,
    batch_id    TEXT,
    batch_pos   INTEGER,
    notified    TEXT,
    source      TEXT,
    mode        TEXT    NOT NULL DEFAULT 'cheapest',
    owner       TEXT    NOT NULL DEFAULT 'local',
    approvals   INTEGER NOT NULL DEFAULT 0,
    usd         TEXT    NOT NULL DEFAULT '0',
    approved_by TEXT    NOT NULL DEFAULT '[]',
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    -- The transaction whose Paid event settled it, and its block.
    paid_tx     TEXT,
    paid_block  INTEGER,
    -- An operator admitted it past the governor (over budget, no price).
    gov_override INTEGER NOT NULL DEFAULT 0,
    -- Batches of it proven dead (it was queued again after each).
    voids       INTEGER NOT NULL DEFAULT 0,
    -- The chain's topology name (NULL in rows of schema 6 and before: EVM,
    -- named by chain_id); chain_id is 0 on a chain without an EVM id.
    chain       TEXT
);
CREATE INDEX IF NOT EXISTS payout_state ON payout (state, chain_id, token, seq);
CREATE INDEX IF NOT EXISTS payout_batch_ix ON payout (batch_id, batch_pos);
-- A merchant's payouts in a window, for its budget; every merchant's for
-- the console.
CREATE INDEX IF NOT EXISTS payout_owner ON payout (owner, created_ms);
CREATE INDEX IF NOT EXISTS payout_created ON payout (created_ms);
-- Was this address paid before on this chain (first-payout delay), and a
-- merchant's items to one recipient (approval tiers).
CREATE INDEX IF NOT EXISTS payout_recipient ON payout (recipient, chain_id, state);
-- Transfers that top up a chain's PayoutBatcher float for held payouts.
CREATE TABLE IF NOT EXISTS funding (
    transfer_id TEXT    PRIMARY KEY,
    chain_id    INTEGER NOT NULL,
    token       TEXT    NOT NULL,
    amount      TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS funding_open ON funding (chain_id, token, state);
-- Webhook deliveries, one per payout event, every attempt counted.
CREATE TABLE IF NOT EXISTS delivery (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    payout_id    TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    attempts     INTEGER NOT NULL,
    last_status  INTEGER,
    last_error   TEXT,
    created_ms   INTEGER NOT NULL,
    delivered_ms INTEGER
);
CREATE INDEX IF NOT EXISTS delivery_status ON delivery (status, id);
CREATE INDEX IF NOT EXISTS delivery_payout ON delivery (payout_id, id);
-- API keys: only the SHA-256 of each token is kept.
CREATE TABLE IF NOT EXISTS api_key (
    id         TEXT    PRIMARY KEY,
    hash       BLOB    NOT NULL UNIQUE,
    role       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    rate_per_s INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
-- Payout flow admitted per chain, for the governor's sliding window.
CREATE TABLE IF NOT EXISTS governor_flow (
    payout_id TEXT    PRIMARY KEY,
    chain_id  INTEGER NOT NULL,
    usd       TEXT    NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS governor_flow_chain ON governor_flow (chain_id, at_ms);
-- Operator pauses in force, and the append-only, hash-chained audit log.
CREATE TABLE IF NOT EXISTS pause (
    kind   TEXT    NOT NULL,
    target TEXT    NOT NULL,
    reason TEXT    NOT NULL,
    actor  TEXT    NOT NULL,
    at_ms  INTEGER NOT NULL,
    PRIMARY KEY (kind, target)
);
CREATE TABLE IF NOT EXISTS audit (
    seq    INTEGER PRIMARY KEY,
    at_ms  INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    reason TEXT    NOT NULL,
    hash   BLOB    NOT NULL
);
-- Reconciliation: how far each chain's Paid events were compared with the
-- store, and every difference found (once each).
CREATE TABLE IF NOT EXISTS reconcile_cursor (
    chain_id   INTEGER PRIMARY KEY,
    next_block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    chain_id   INTEGER NOT NULL,
    detail     TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (kind, chain_id, detail)
);
CREATE TABLE IF NOT EXISTS payout_batch (
    id         TEXT    PRIMARY KEY,
    chain_id   INTEGER NOT NULL,
    token      TEXT    NOT NULL,
    deadline   INTEGER NOT NULL,
    state      TEXT    NOT NULL,
    items      INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    -- A block before the batch could have been used: where log searches start.
    from_block INTEGER NOT NULL DEFAULT 0,
    -- Why it was given up, and the items the token refuses (JSON).
    reason     TEXT,
    offenders  TEXT,
    -- The transaction that used the batch id, once found, and its block.
    used_tx    BLOB,
    used_block INTEGER,
    used_hash  BLOB,
    -- The chain's topology name (see payout.chain).
    chain      TEXT
);
";

/// A difference between the store and a chain.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Alert {
    /// `unknown_payout`, `payout_mismatch`, `paid_but_not_settled`.
    pub kind: String,
    /// EVM chain id, or the bridge domain of a chain without one.
    pub chain_id: i64,
    /// What differs.
    pub detail: String,
    /// When it was found, unix ms.
    pub created_ms: i64,
}

/// The relayer's durable state.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the store at `path`. A store written by
    /// another schema version is refused rather than misread.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let fresh: i64 = conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if fresh > 0 && (2..SCHEMA_VERSION).contains(&version) {
            // One transaction: a crash mid-migration leaves the old version.
            let t = conn.unchecked_transaction()?;
            if version == 2 {
                t.execute_batch(MIGRATE_2_TO_3)?;
            }
            if version <= 3 {
                t.execute_batch(MIGRATE_3_TO_4)?;
            }
            if version <= 4 {
                t.execute_batch(MIGRATE_4_TO_5)?;
            }
            if version <= 5 {
                t.execute_batch(MIGRATE_5_TO_6)?;
            }
            t.execute_batch(MIGRATE_6_TO_7)?;
            t.execute_batch(SCHEMA)?;
            t.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            t.commit()?;
        } else if fresh > 0 && version != SCHEMA_VERSION {
            return Err(Error::Corrupt(format!(
                "{} has schema version {version}; this build reads {SCHEMA_VERSION}{}",
                path.display(),
                if version > SCHEMA_VERSION {
                    " (written by a newer switchyard: upgrade this one)"
                } else {
                    ""
                }
            )));
        }
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Lane transactions by (chain id, state).
    pub fn lane_counts(&self) -> Result<Vec<(i64, String, i64)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT chain_id, state, COUNT(*) FROM tx GROUP BY chain_id, state")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Transfers by state.
    pub fn transfer_counts(&self) -> Result<Vec<(String, i64)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM transfer GROUP BY state")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Alerts, newest first, at most `limit`, and how many there are.
    pub fn alerts(&self, limit: usize) -> Result<(i64, Vec<Alert>)> {
        let conn = self.conn();
        let total: i64 = conn.query_row("SELECT COUNT(*) FROM alert", [], |r| r.get(0))?;
        let mut stmt = conn.prepare(
            "SELECT kind, chain_id, detail, created_ms FROM alert ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(Alert {
                    kind: r.get(0)?,
                    chain_id: r.get(1)?,
                    detail: r.get(2)?,
                    created_ms: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((total, rows))
    }

    /// Folds the write-ahead log into the main file (sizes, backups).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The connection. A panic while holding it cannot leave a half-applied
    /// write (SQLite transactions roll back), so a poisoned lock is reused.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store the previous build wrote (schema 3: a transfer A -> C whose
    /// hop was releasing when the daemon was killed, and its lanes'
    /// transactions) upgrades in place on open and keeps every row;
    /// the hop, ending after the upgrade, is observed once, without a
    /// latency (its start predates the column).
    #[test]
    fn a_schema_3_store_upgrades_in_place_and_keeps_its_rows() {
        let dir = std::env::temp_dir().join(format!("sy-store-v3-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("switchyard.db");
        std::fs::write(&path, include_bytes!("../tests/fixtures/store-v3.db")).unwrap();
        let store = Store::open(&path).unwrap();
        {
            let conn = store.conn();
            let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
            assert_eq!(one("PRAGMA user_version"), SCHEMA_VERSION);
            assert_eq!(one("SELECT COUNT(*) FROM tx"), 3);
            assert_eq!(one("SELECT COUNT(*) FROM lane"), 3);
            assert_eq!(one("SELECT COUNT(*) FROM transfer"), 1);
            assert_eq!(one("SELECT COUNT(*) FROM bridge_obs"), 0);
            let (id, state, started, plan): (String, String, Option<i64>, String) = conn
                .query_row(
                    "SELECT transfer_id, state, started_ms, plan FROM hop",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .unwrap();
            assert_eq!((state.as_str(), started), ("releasing", None));
            let plan: crate::transfer::HopPlan = serde_json::from_str(&plan).unwrap();
            assert_eq!(plan.bridge, "escrow-a-c");
            for _ in 0..2 {
                crate::observe::record(&conn, &id, 0, &plan, true, 5_000).unwrap();
            }
        }
        let mut seen = store.observations_after(0, 0).unwrap();
        assert!(seen[0].seq > 0);
        seen[0].seq = 0;
        assert_eq!(
            seen,
            vec![crate::observe::Observation {
                seq: 0,
                bridge: "escrow-a-c".into(),
                ok: true,
                latency_ms: None,
                src_finality: switchyard_core::Finality::Blocks { blocks: 2 },
                dst_finality: switchyard_core::Finality::Blocks { blocks: 6 },
                at_ms: 5_000,
            }]
        );
        drop(store);
        // Opening it again changes nothing.
        let again = Store::open(&path).unwrap();
        assert_eq!(again.observations_after(0, 0).unwrap().len(), 1);
        // Still releasing, but begun before hops recorded their start: it
        // has no age to count while under way.
        assert!(again.hops_in_flight().unwrap().is_empty());
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A store the previous build wrote (schema 5, one merchant key,
    /// written by `switchyard keys create`) upgrades in place to the
    /// generic lane's tables and keeps its key; the generic lane then works
    /// on it.
    #[test]
    fn a_schema_5_store_upgrades_to_the_generic_lane_tables() {
        let dir = std::env::temp_dir().join(format!("sy-store-v5-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("switchyard.db");
        std::fs::write(&path, include_bytes!("../tests/fixtures/store-v5.db")).unwrap();
        {
            let before = Connection::open(&path).unwrap();
            let v: i64 = before
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(v, 5);
        }
        let store = Store::open(&path).unwrap();
        {
            let conn = store.conn();
            let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
            assert_eq!(one("PRAGMA user_version"), SCHEMA_VERSION);
            assert_eq!(one("SELECT COUNT(*) FROM api_key WHERE name = 'acme'"), 1);
            assert_eq!(one("SELECT COUNT(*) FROM vm_intent"), 0);
            assert_eq!(one("SELECT COUNT(*) FROM vm_attempt"), 0);
            // Schema 7: payouts and batches name their chain.
            assert_eq!(one("SELECT COUNT(chain) FROM payout"), 0);
            assert_eq!(one("SELECT COUNT(chain) FROM payout_batch"), 0);
            conn.execute(
                "INSERT INTO vm_intent (chain, sender, intent, payload, state, created_ms, updated_ms) VALUES ('devnet-sol', 's', 'k', x'01', 'reserved', 0, 0)",
                [],
            )
            .unwrap();
        }
        drop(store);
        let again = Store::open(&path).unwrap();
        let n: i64 = again
            .conn()
            .query_row("SELECT COUNT(*) FROM vm_intent", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A store from a newer build is refused, naming both versions.
    #[test]
    fn a_newer_schema_is_refused() {
        let dir = std::env::temp_dir().join(format!("sy-store-new-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("switchyard.db");
        drop(Store::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let e = Store::open(&path).unwrap_err().to_string();
        assert!(e.contains("newer switchyard"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
