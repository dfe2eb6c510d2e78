//! One EVM lane: the transactions of one signer on one chain, sent in
//! nonce order, with every step written to the [`Store`] first.
//!
//! Life of a transaction (one row per intent, any number of attempts):
//!
//! ```text
//! reserve(intent)  -> Reserved  nonce taken, call and finality rule stored
//! tick: simulate   -> (a call that would revert is cancelled: its nonce is
//!                     filled by a 0-value transfer to self, never left as a gap)
//!       sign       -> Signed    attempt (hash, bytes, fees) stored first
//!       broadcast  -> Sent      head at broadcast stored
//!       replace    -> Sent      after `replace_after_blocks` unmined: a new
//!                               attempt, same nonce, fees bumped ≥ 12.5%
//!       receipt    -> Included  block number and hash stored
//!       re-check   -> Final     the block is still canonical at the depth
//!                               the intent's finality rule asks for
//!       reorg      -> Sent      the block was replaced and no attempt is in
//!                               the new chain: the same bytes go out again
//! ```
//!
//! Why this never pays twice: all attempts of a row share one nonce, so at
//! most one of them is ever mined. A row gets a new nonce only once the
//! old one is proven used by another transaction: the sender's nonce at a
//! *finalized* block is past it, and the transaction that used it (read
//! from the block itself, `EvmChain::nonce_consumer`) is none of the row's
//! attempts; so none of them can ever be mined. One node's missing receipt
//! proves nothing (it may lag, or sit behind a load balancer) and never
//! triggers a re-nonce. An intent is reserved at most once per lane. The
//! contracts' replay guards (batch id, deposit id) are the last line
//! behind these.
//!
//! One lane per key: a lane that sees transactions from its key that it
//! did not make (the chain's nonce passes every nonce it reserved, or a
//! reserved nonce is used by a foreign transaction) *halts*: it sends
//! nothing until an operator resumes it ([`Lane::resume`]), since another
//! process signing with the same key would race it for every nonce. A new
//! lane adopts the key's history once, on its first tick: what the key did
//! before this store existed is not foreign.
//!
//! Rows fail on their own: an error in one row's step (a node that cannot
//! answer, a receipt not there yet) is recorded on the row
//! ([`TxRecord::last_error`]) and the tick goes on with the next row.
//!
//! [`Lane::tick`] drives every open row one step; it is what the daemon's
//! lane task calls in a loop and what a restarted daemon calls first, so
//! resuming after a crash is the ordinary path, not a special one.

use crate::states::sql::{TX_FINAL, TX_RESERVED};
use std::fmt;
use std::sync::Arc;

use alloy::primitives::{Address as EvmAddress, B256, Bytes, U256};
use rusqlite::{OptionalExtension, Row, params};
use switchyard_chains::evm::{EvmChain, EvmTx};
use switchyard_core::chain::{BlockRef, ChainError, ChainReader, TxId, TxStatus, TxSubmitter};
use switchyard_core::finality::Finality;

use crate::error::{Error, Result};
use crate::store::Store;
use switchyard_core::fees::{FeePolicy, Fees};

mod tick;

/// What a transaction calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// Callee.
    pub to: EvmAddress,
    /// Calldata.
    pub data: Vec<u8>,
    /// Wei sent.
    pub value: U256,
    /// Gas limit; `None` estimates it at the first signing (plus the
    /// policy's margin).
    pub gas_limit: Option<u64>,
}

impl Call {
    /// A call of `data` on contract `to`, no value, gas estimated.
    pub fn contract(to: EvmAddress, data: Vec<u8>) -> Self {
        Self {
            to,
            data,
            value: U256::ZERO,
            gas_limit: None,
        }
    }
}

/// Where a lane transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxState {
    /// Nonce reserved, not signed.
    Reserved,
    /// An attempt is signed and stored; maybe broadcast.
    Signed,
    /// Broadcast, not yet seen in a block.
    Sent,
    /// In a block that is not yet final.
    Included,
    /// In a block at or past the finality rule's depth.
    Final,
}

impl TxState {
    /// Its stored name as an SQL string literal (`'reserved'`), for the
    /// constants of [`crate::states::sql`].
    pub const fn sql_literal(self) -> &'static str {
        match self {
            Self::Reserved => "'reserved'",
            Self::Signed => "'signed'",
            Self::Sent => "'sent'",
            Self::Included => "'included'",
            Self::Final => "'final'",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Signed => "signed",
            Self::Sent => "sent",
            Self::Included => "included",
            Self::Final => "final",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "reserved" => Self::Reserved,
            "signed" => Self::Signed,
            "sent" => Self::Sent,
            "included" => Self::Included,
            "final" => Self::Final,
            other => return Err(Error::Corrupt(format!("unknown tx state {other:?}"))),
        })
    }
}

impl fmt::Display for TxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lane transaction as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRecord {
    /// Row id.
    pub id: i64,
    /// Idempotency key.
    pub intent: String,
    /// Nonce.
    pub nonce: u64,
    /// The call.
    pub call: Call,
    /// When the transaction counts as final.
    pub finality: Finality,
    /// State.
    pub state: TxState,
    /// Why the call was not sent (simulation revert); its nonce carried a
    /// 0-value transfer to self instead.
    pub cancelled: Option<String>,
    /// The mined transaction reverted.
    pub reverted: bool,
    /// Hash of the latest (or the mined) attempt.
    pub hash: Option<B256>,
    /// Raw bytes of the latest (or the mined) attempt.
    pub raw: Option<Vec<u8>>,
    /// Fees of the latest attempt.
    pub fees: Option<Fees>,
    /// Head when the latest attempt was broadcast.
    pub sent_head: Option<u64>,
    /// Including block.
    pub block: Option<(u64, B256)>,
    /// Why the row's last step failed (cleared by the next one that works).
    pub last_error: Option<String>,
    /// When the row last changed, unix ms.
    pub updated_ms: i64,
}

impl TxRecord {
    /// Final and executed as asked (not cancelled, not reverted).
    pub fn succeeded(&self) -> bool {
        self.state == TxState::Final && self.cancelled.is_none() && !self.reverted
    }

    /// Final but not executed as asked.
    pub fn failed(&self) -> bool {
        self.state == TxState::Final && (self.cancelled.is_some() || self.reverted)
    }
}

/// A point in the send path, for a crash hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The attempt is signed and stored, not broadcast.
    Signed,
    /// The attempt is broadcast and recorded as sent.
    Broadcast,
}

/// Called at each [`Stage`]; the daemon uses it for crash drills.
pub type Hook = Arc<dyn Fn(Stage, &TxRecord) + Send + Sync>;

/// What one [`Lane::tick`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Nonce mined on chain for the sender.
    pub chain_nonce: u64,
    /// Head seen.
    pub head: u64,
    /// First attempts signed and broadcast.
    pub sent: usize,
    /// Calls cancelled because they would revert.
    pub cancelled: usize,
    /// Replacement attempts.
    pub replaced: usize,
    /// Attempts broadcast again (unknown to the node, or after a reorg).
    pub rebroadcast: usize,
    /// Rows given a new nonce because another transaction used theirs.
    pub renonced: usize,
    /// Rows seen in a block.
    pub included: usize,
    /// Rows whose block left the canonical chain.
    pub reorged: usize,
    /// Rows that became final.
    pub finalized: usize,
    /// Rows whose step failed this time (recorded on the row).
    pub errors: usize,
    /// Why the lane is halted, if it is: it sends nothing.
    pub halted: Option<String>,
}

/// The transactions of one signer on one chain.
#[derive(Clone)]
pub struct Lane {
    store: Arc<Store>,
    chain_id: u64,
    sender: EvmAddress,
    policy: FeePolicy,
    hook: Option<Hook>,
}

impl fmt::Debug for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lane")
            .field("chain_id", &self.chain_id)
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now_ms() -> i64 {
    i64::try_from(switchyard_core::now_ms()).unwrap_or(i64::MAX)
}

pub(crate) fn corrupt(what: &str) -> Error {
    Error::Corrupt(what.to_owned())
}

const COLUMNS: &str = "id, intent, nonce, to_addr, data, value, gas_limit, finality, state, cancelled, reverted, hash, raw, max_fee, tip, sent_head, block_number, block_hash, last_error, updated_ms";

fn to_u64(v: Option<i64>, what: &str) -> Result<Option<u64>> {
    v.map(|n| u64::try_from(n).map_err(|_| corrupt(what)))
        .transpose()
}

fn to_b256(v: Option<Vec<u8>>, what: &str) -> Result<Option<B256>> {
    v.map(|h| B256::try_from(h.as_slice()).map_err(|_| corrupt(what)))
        .transpose()
}

fn wei(v: Option<String>, what: &str) -> Result<Option<u128>> {
    v.map(|s| s.parse::<u128>().map_err(|_| corrupt(what)))
        .transpose()
}

struct RawRow {
    id: i64,
    intent: String,
    nonce: i64,
    to: String,
    data: Vec<u8>,
    value: String,
    gas: Option<i64>,
    finality: String,
    state: String,
    cancelled: Option<String>,
    reverted: bool,
    hash: Option<Vec<u8>>,
    raw: Option<Vec<u8>>,
    max_fee: Option<String>,
    tip: Option<String>,
    sent_head: Option<i64>,
    block_number: Option<i64>,
    block_hash: Option<Vec<u8>>,
    last_error: Option<String>,
    updated_ms: i64,
}

fn row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: r.get(0)?,
        intent: r.get(1)?,
        nonce: r.get(2)?,
        to: r.get(3)?,
        data: r.get(4)?,
        value: r.get(5)?,
        gas: r.get(6)?,
        finality: r.get(7)?,
        state: r.get(8)?,
        cancelled: r.get(9)?,
        reverted: r.get(10)?,
        hash: r.get(11)?,
        raw: r.get(12)?,
        max_fee: r.get(13)?,
        tip: r.get(14)?,
        sent_head: r.get(15)?,
        block_number: r.get(16)?,
        block_hash: r.get(17)?,
        last_error: r.get(18)?,
        updated_ms: r.get(19)?,
    })
}

fn decode(r: RawRow) -> Result<TxRecord> {
    let fees = match (wei(r.max_fee, "bad max_fee")?, wei(r.tip, "bad tip")?) {
        (Some(max), Some(tip)) => Some(Fees { max, tip }),
        _ => None,
    };
    let block = match (
        to_u64(r.block_number, "negative block")?,
        to_b256(r.block_hash, "bad block hash")?,
    ) {
        (Some(n), Some(h)) => Some((n, h)),
        _ => None,
    };
    Ok(TxRecord {
        id: r.id,
        intent: r.intent,
        nonce: u64::try_from(r.nonce).map_err(|_| corrupt("negative nonce"))?,
        call: Call {
            to: r.to.parse().map_err(|_| corrupt("bad to_addr"))?,
            data: r.data,
            value: U256::from_str_radix(&r.value, 10).map_err(|_| corrupt("bad value"))?,
            gas_limit: to_u64(r.gas, "negative gas")?,
        },
        finality: serde_json::from_str(&r.finality).map_err(|_| corrupt("bad finality"))?,
        state: TxState::parse(&r.state)?,
        cancelled: r.cancelled,
        reverted: r.reverted,
        hash: to_b256(r.hash, "bad hash")?,
        raw: r.raw,
        fees,
        sent_head: to_u64(r.sent_head, "negative sent_head")?,
        block,
        last_error: r.last_error,
        updated_ms: r.updated_ms,
    })
}

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::Corrupt(format!("{what} {v} does not fit the store")))
}

impl Lane {
    /// The lane of `sender` on `chain_id`, created on first use.
    pub fn open(
        store: Arc<Store>,
        chain_id: u64,
        sender: EvmAddress,
        policy: FeePolicy,
    ) -> Result<Self> {
        policy
            .validate()
            .map_err(|e| Error::Config(format!("fee policy: {e}")))?;
        // A new lane adopts the key's history on its first tick.
        store.conn().execute(
            "INSERT OR IGNORE INTO lane (chain_id, sender, next_nonce, adopted) VALUES (?1, ?2, 0, 0)",
            params![to_i64(chain_id, "chain id")?, sender.to_checksum(None)],
        )?;
        Ok(Self {
            store,
            chain_id,
            sender,
            policy,
            hook: None,
        })
    }

    /// Installs a hook called at each send [`Stage`].
    pub fn with_hook(mut self, hook: Hook) -> Self {
        self.hook = Some(hook);
        self
    }

    fn key(&self) -> Result<(i64, String)> {
        Ok((
            to_i64(self.chain_id, "chain id")?,
            self.sender.to_checksum(None),
        ))
    }

    /// The lane's chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The lane's sender.
    pub fn sender(&self) -> EvmAddress {
        self.sender
    }

    /// The nonce the next reservation gets.
    pub fn next_nonce(&self) -> Result<u64> {
        let (c, s) = self.key()?;
        let n: i64 = self.store.conn().query_row(
            "SELECT next_nonce FROM lane WHERE chain_id = ?1 AND sender = ?2",
            params![c, s],
            |r| r.get(0),
        )?;
        u64::try_from(n).map_err(|_| corrupt("negative next_nonce"))
    }

    /// Reserves a nonce for `intent`, storing the call and its finality
    /// rule, in one SQLite transaction. The same intent returns the same
    /// record; the same intent with another call is an error.
    pub fn reserve(&self, intent: &str, call: &Call, finality: Finality) -> Result<TxRecord> {
        let (c, s) = self.key()?;
        let finality_text =
            serde_json::to_string(&finality).map_err(|e| Error::Corrupt(e.to_string()))?;
        {
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            let existing = t
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM tx WHERE chain_id = ?1 AND sender = ?2 AND intent = ?3"
                    ),
                    params![c, s, intent],
                    row,
                )
                .optional()?;
            if let Some(r) = existing {
                let rec = decode(r)?;
                if rec.call.to != call.to
                    || rec.call.data != call.data
                    || rec.call.value != call.value
                {
                    return Err(Error::IntentMismatch(intent.to_owned()));
                }
                return Ok(rec);
            }
            let now = now_ms();
            t.execute(
                &format!("INSERT INTO tx (chain_id, sender, intent, nonce, to_addr, data, value, gas_limit, finality, state, created_ms, updated_ms)
                 SELECT ?1, ?2, ?3, next_nonce, ?4, ?5, ?6, ?7, ?8, {TX_RESERVED}, ?9, ?9 FROM lane WHERE chain_id = ?1 AND sender = ?2"),
                params![
                    c,
                    s,
                    intent,
                    call.to.to_checksum(None),
                    call.data,
                    call.value.to_string(),
                    call.gas_limit.map(|g| to_i64(g, "gas limit")).transpose()?,
                    finality_text,
                    now
                ],
            )?;
            t.execute(
                "UPDATE lane SET next_nonce = next_nonce + 1 WHERE chain_id = ?1 AND sender = ?2",
                params![c, s],
            )?;
            t.commit()?;
        }
        self.get(intent)?
            .ok_or_else(|| corrupt("reserved row vanished"))
    }

    /// A record by intent.
    pub fn get(&self, intent: &str) -> Result<Option<TxRecord>> {
        let (c, s) = self.key()?;
        let r = self
            .store
            .conn()
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM tx WHERE chain_id = ?1 AND sender = ?2 AND intent = ?3"
                ),
                params![c, s, intent],
                row,
            )
            .optional()?;
        r.map(decode).transpose()
    }

    fn by_id(&self, id: i64) -> Result<TxRecord> {
        let r = self.store.conn().query_row(
            &format!("SELECT {COLUMNS} FROM tx WHERE id = ?1"),
            params![id],
            row,
        )?;
        decode(r)
    }

    /// Records not yet final, in nonce order.
    pub fn open_records(&self) -> Result<Vec<TxRecord>> {
        let (c, s) = self.key()?;
        let conn = self.store.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM tx WHERE chain_id = ?1 AND sender = ?2 AND state != {TX_FINAL} ORDER BY nonce"
        ))?;
        let rows = stmt.query_map(params![c, s], row)?;
        rows.map(|r| decode(r?)).collect()
    }

    /// Hashes of every attempt of row `id`, newest first.
    pub fn attempts(&self, id: i64) -> Result<Vec<B256>> {
        let conn = self.store.conn();
        let mut stmt =
            conn.prepare("SELECT hash FROM attempt WHERE tx_id = ?1 ORDER BY id DESC")?;
        let rows = stmt.query_map(params![id], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|h| {
            let h = h?;
            B256::try_from(h.as_slice()).map_err(|_| corrupt("bad attempt hash"))
        })
        .collect()
    }

    /// The bytes of our attempt `hash`; `None` if it is not one of ours.
    pub(crate) fn attempt_raw(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
        Ok(self
            .store
            .conn()
            .query_row(
                "SELECT raw FROM attempt WHERE hash = ?1",
                params![hash.to_vec()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Why the lane is halted (it sends nothing), if it is.
    pub fn halted(&self) -> Result<Option<String>> {
        let (c, s) = self.key()?;
        Ok(self.store.conn().query_row(
            "SELECT halted FROM lane WHERE chain_id = ?1 AND sender = ?2",
            params![c, s],
            |r| r.get(0),
        )?)
    }

    /// Halts the lane with `reason` (kept if it is halted already).
    fn halt(&self, reason: &str) -> Result<()> {
        let (c, s) = self.key()?;
        let n = self.store.conn().execute(
            "UPDATE lane SET halted = ?1 WHERE chain_id = ?2 AND sender = ?3 AND halted IS NULL",
            params![reason, c, s],
        )?;
        if n == 1 {
            tracing::error!(chain_id = self.chain_id, sender = %self.sender, reason, "lane halted: another sender uses this key");
        }
        Ok(())
    }

    /// An operator's word that the lane may run again: the sends of other
    /// processes so far are accepted as the key's history (the next tick
    /// moves past them and re-nonces rows whose nonce they used), and the
    /// audit entry is written in the same SQLite transaction. `Ok(None)`:
    /// the lane was not halted.
    pub fn resume(&self, actor: &str, reason: &str) -> Result<Option<crate::AuditEntry>> {
        let (c, s) = self.key()?;
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let n = t.execute(
            "UPDATE lane SET halted = NULL, resumed = 1 WHERE chain_id = ?1 AND sender = ?2 AND halted IS NOT NULL",
            params![c, s],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let e = crate::ops::Ops::append(
            &t,
            actor,
            "lane_resume",
            &format!("lane:{}:{s}", self.chain_id),
            reason,
        )?;
        t.commit()?;
        Ok(Some(e))
    }

    /// Open rows whose last step failed: (nonce, intent, error).
    pub fn failing(&self) -> Result<Vec<(u64, String, String)>> {
        Ok(self
            .open_records()?
            .into_iter()
            .filter_map(|r| r.last_error.map(|e| (r.nonce, r.intent, e)))
            .collect())
    }

    fn set_error(&self, id: i64, error: Option<&str>) -> Result<()> {
        self.store.conn().execute(
            "UPDATE tx SET last_error = ?1 WHERE id = ?2 AND last_error IS NOT ?1",
            params![error, id],
        )?;
        Ok(())
    }

    fn set_state(&self, id: i64, state: TxState) -> Result<()> {
        self.store.conn().execute(
            "UPDATE tx SET state = ?1, updated_ms = ?2 WHERE id = ?3",
            params![state.as_str(), now_ms(), id],
        )?;
        Ok(())
    }
}
