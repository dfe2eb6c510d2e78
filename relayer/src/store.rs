//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a committed write survives a crash of the process or the machine.
//! All access goes through one connection behind a mutex; calls are short
//! and never held across an await.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

use crate::error::Result;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS lane (
    chain_id   INTEGER NOT NULL,
    sender     TEXT    NOT NULL,
    next_nonce INTEGER NOT NULL,
    PRIMARY KEY (chain_id, sender)
);
CREATE TABLE IF NOT EXISTS tx (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    chain_id     INTEGER NOT NULL,
    sender       TEXT    NOT NULL,
    intent       TEXT    NOT NULL,
    nonce        INTEGER NOT NULL,
    to_addr      TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    value        TEXT    NOT NULL,
    gas_limit    INTEGER NOT NULL,
    state        TEXT    NOT NULL,
    hash         BLOB,
    raw          BLOB,
    max_fee      TEXT,
    tip          TEXT,
    block_number INTEGER,
    block_hash   BLOB,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    UNIQUE (chain_id, sender, intent)
);
CREATE INDEX IF NOT EXISTS tx_lane_state ON tx (chain_id, sender, state, nonce);
";

/// The relayer's durable state.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The connection. A panic while holding it cannot leave a half-applied
    /// write (SQLite transactions roll back), so a poisoned lock is reused.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
