//! One EVM lane: the transactions of one signer on one chain, sent in
//! nonce order, with every step written to the [`Store`] first.
//!
//! Life of a transaction:
//!
//! ```text
//! reserve(intent)      -> Reserved   nonce taken, call stored (write-ahead)
//! send(): sign         -> Signed     hash and raw bytes stored before broadcast
//!         broadcast    -> Sent
//! reconcile/watch      -> Included   receipt seen (finality watching follows)
//! ```
//!
//! An intent (e.g. `batch:<id>`) is reserved at most once per lane, so a
//! retried request never creates a second transaction. [`Lane::reconcile`]
//! runs on start and after any send error. It moves the lane's next nonce
//! past transactions someone else sent from the same key, re-nonces our
//! transactions whose nonce such a transaction consumed (they can never be
//! mined, so re-signing cannot pay twice), rebroadcasts signed transactions
//! the node does not know (a crash between signing and broadcast), and
//! records inclusions it finds.

use std::sync::Arc;

use alloy::primitives::{Address as EvmAddress, B256, Bytes, U256};
use rusqlite::{OptionalExtension, Row, params};
use switchyard_chains::evm::{EvmChain, EvmTx};
use switchyard_core::chain::{TxId, TxStatus, TxSubmitter};

use crate::error::{Error, Result};
use crate::store::Store;

/// What a transaction calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// Callee.
    pub to: EvmAddress,
    /// Calldata.
    pub data: Vec<u8>,
    /// Wei sent.
    pub value: U256,
    /// Gas limit.
    pub gas_limit: u64,
}

/// Where a lane transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxState {
    /// Nonce reserved, not signed.
    Reserved,
    /// Signed; hash and bytes stored; maybe broadcast.
    Signed,
    /// Broadcast.
    Sent,
    /// Seen in a block.
    Included,
}

impl TxState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Signed => "signed",
            Self::Sent => "sent",
            Self::Included => "included",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "reserved" => Self::Reserved,
            "signed" => Self::Signed,
            "sent" => Self::Sent,
            "included" => Self::Included,
            other => return Err(Error::Corrupt(format!("unknown tx state {other:?}"))),
        })
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
    /// State.
    pub state: TxState,
    /// Hash once signed.
    pub hash: Option<B256>,
    /// Raw signed bytes once signed.
    pub raw: Option<Vec<u8>>,
    /// Block number once included.
    pub block_number: Option<u64>,
}

/// What [`Lane::reconcile`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Nonce mined on chain for the sender.
    pub chain_nonce: u64,
    /// Transactions given a new nonce because theirs was used by another.
    pub renonced: usize,
    /// Signed transactions broadcast again.
    pub rebroadcast: usize,
    /// Transactions found included.
    pub included: usize,
}

/// The transactions of one signer on one chain.
#[derive(Debug, Clone)]
pub struct Lane {
    store: Arc<Store>,
    chain_id: u64,
    sender: EvmAddress,
}

fn now_ms() -> i64 {
    i64::try_from(switchyard_core::now_ms()).unwrap_or(i64::MAX)
}

fn corrupt(what: &str) -> Error {
    Error::Corrupt(what.to_owned())
}

fn record(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
    ))
}

const COLUMNS: &str =
    "id, intent, nonce, to_addr, data, value, gas_limit, state, hash, raw, block_number";

type RawRow = (
    i64,
    String,
    i64,
    String,
    Vec<u8>,
    String,
    i64,
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<i64>,
);

fn decode(
    (id, intent, nonce, to, data, value, gas, state, hash, raw, block): RawRow,
) -> Result<TxRecord> {
    Ok(TxRecord {
        id,
        intent,
        nonce: u64::try_from(nonce).map_err(|_| corrupt("negative nonce"))?,
        call: Call {
            to: to.parse().map_err(|_| corrupt("bad to_addr"))?,
            data,
            value: U256::from_str_radix(&value, 10).map_err(|_| corrupt("bad value"))?,
            gas_limit: u64::try_from(gas).map_err(|_| corrupt("negative gas"))?,
        },
        state: TxState::parse(&state)?,
        hash: hash
            .map(|h| B256::try_from(h.as_slice()).map_err(|_| corrupt("bad hash")))
            .transpose()?,
        raw,
        block_number: block
            .map(|b| u64::try_from(b).map_err(|_| corrupt("negative block")))
            .transpose()?,
    })
}

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::Corrupt(format!("{what} {v} does not fit the store")))
}

impl Lane {
    /// The lane of `sender` on `chain_id`, created on first use.
    pub fn open(store: Arc<Store>, chain_id: u64, sender: EvmAddress) -> Result<Self> {
        store.conn().execute(
            "INSERT OR IGNORE INTO lane (chain_id, sender, next_nonce) VALUES (?1, ?2, 0)",
            params![to_i64(chain_id, "chain id")?, sender.to_checksum(None)],
        )?;
        Ok(Self {
            store,
            chain_id,
            sender,
        })
    }

    fn key(&self) -> Result<(i64, String)> {
        Ok((
            to_i64(self.chain_id, "chain id")?,
            self.sender.to_checksum(None),
        ))
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

    /// Reserves a nonce for `intent`, storing the call, in one SQLite
    /// transaction. The same intent returns the same record; the same
    /// intent with another call is an error.
    pub fn reserve(&self, intent: &str, call: &Call) -> Result<TxRecord> {
        let (c, s) = self.key()?;
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let existing = t
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM tx WHERE chain_id = ?1 AND sender = ?2 AND intent = ?3"
                ),
                params![c, s, intent],
                record,
            )
            .optional()?;
        if let Some(row) = existing {
            let rec = decode(row)?;
            if rec.call != *call {
                return Err(Error::IntentMismatch(intent.to_owned()));
            }
            return Ok(rec);
        }
        let nonce: i64 = t.query_row(
            "SELECT next_nonce FROM lane WHERE chain_id = ?1 AND sender = ?2",
            params![c, s],
            |r| r.get(0),
        )?;
        let now = now_ms();
        t.execute(
            "INSERT INTO tx (chain_id, sender, intent, nonce, to_addr, data, value, gas_limit, state, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'reserved', ?9, ?9)",
            params![
                c,
                s,
                intent,
                nonce,
                call.to.to_checksum(None),
                call.data,
                call.value.to_string(),
                to_i64(call.gas_limit, "gas limit")?,
                now
            ],
        )?;
        let id = t.last_insert_rowid();
        t.execute(
            "UPDATE lane SET next_nonce = next_nonce + 1 WHERE chain_id = ?1 AND sender = ?2",
            params![c, s],
        )?;
        t.commit()?;
        Ok(TxRecord {
            id,
            intent: intent.to_owned(),
            nonce: u64::try_from(nonce).map_err(|_| corrupt("negative nonce"))?,
            call: call.clone(),
            state: TxState::Reserved,
            hash: None,
            raw: None,
            block_number: None,
        })
    }

    /// A record by intent.
    pub fn get(&self, intent: &str) -> Result<Option<TxRecord>> {
        let (c, s) = self.key()?;
        let row = self
            .store
            .conn()
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM tx WHERE chain_id = ?1 AND sender = ?2 AND intent = ?3"
                ),
                params![c, s, intent],
                record,
            )
            .optional()?;
        row.map(decode).transpose()
    }

    /// Records not yet included, in nonce order.
    pub fn open_records(&self) -> Result<Vec<TxRecord>> {
        let (c, s) = self.key()?;
        let conn = self.store.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM tx WHERE chain_id = ?1 AND sender = ?2 AND state IN ('reserved', 'signed', 'sent') ORDER BY nonce"
        ))?;
        let rows = stmt.query_map(params![c, s], record)?;
        rows.map(|r| decode(r?)).collect()
    }

    fn set_state(&self, id: i64, state: TxState) -> Result<()> {
        self.store.conn().execute(
            "UPDATE tx SET state = ?1, updated_ms = ?2 WHERE id = ?3",
            params![state.as_str(), now_ms(), id],
        )?;
        Ok(())
    }

    /// Signs `rec` with fees, stores hash and bytes (state `Signed`), then
    /// broadcasts (state `Sent`). A crash between the two leaves a signed
    /// record that [`Lane::reconcile`] broadcasts again: the same bytes,
    /// the same hash, never a second transaction.
    pub async fn send(
        &self,
        chain: &EvmChain,
        rec: &TxRecord,
        max_fee_per_gas: u128,
        tip: u128,
    ) -> Result<TxRecord> {
        let tx = EvmTx {
            to: rec.call.to,
            data: Bytes::from(rec.call.data.clone()),
            value: rec.call.value,
            nonce: rec.nonce,
            gas_limit: rec.call.gas_limit,
            max_fee_per_gas,
            max_priority_fee_per_gas: tip,
        };
        let (id, raw) = chain.sign(&tx)?;
        self.store.conn().execute(
            "UPDATE tx SET state = 'signed', hash = ?1, raw = ?2, max_fee = ?3, tip = ?4, updated_ms = ?5 WHERE id = ?6",
            params![id.0, raw, max_fee_per_gas.to_string(), tip.to_string(), now_ms(), rec.id],
        )?;
        chain.broadcast(&raw).await?;
        self.set_state(rec.id, TxState::Sent)?;
        let mut out = rec.clone();
        out.state = TxState::Sent;
        out.hash = Some(B256::try_from(id.0.as_slice()).map_err(|_| corrupt("bad hash"))?);
        out.raw = Some(raw);
        Ok(out)
    }

    fn mark_included(&self, id: i64, number: u64, hash: [u8; 32]) -> Result<()> {
        self.store.conn().execute(
            "UPDATE tx SET state = 'included', block_number = ?1, block_hash = ?2, updated_ms = ?3 WHERE id = ?4",
            params![to_i64(number, "block number")?, hash.to_vec(), now_ms(), id],
        )?;
        Ok(())
    }

    /// Gives `id` the lane's next nonce and clears its signature.
    fn renonce(&self, id: i64) -> Result<()> {
        let (c, s) = self.key()?;
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let next: i64 = t.query_row(
            "SELECT next_nonce FROM lane WHERE chain_id = ?1 AND sender = ?2",
            params![c, s],
            |r| r.get(0),
        )?;
        t.execute(
            "UPDATE tx SET nonce = ?1, state = 'reserved', hash = NULL, raw = NULL, updated_ms = ?2 WHERE id = ?3",
            params![next, now_ms(), id],
        )?;
        t.execute(
            "UPDATE lane SET next_nonce = next_nonce + 1 WHERE chain_id = ?1 AND sender = ?2",
            params![c, s],
        )?;
        t.commit()?;
        Ok(())
    }

    /// Brings the store in line with the chain; see the module docs.
    pub async fn reconcile(&self, chain: &EvmChain) -> Result<ReconcileReport> {
        let mined = chain.nonce(false).await?;
        let (c, s) = self.key()?;
        self.store.conn().execute(
            "UPDATE lane SET next_nonce = MAX(next_nonce, ?1) WHERE chain_id = ?2 AND sender = ?3",
            params![to_i64(mined, "nonce")?, c, s],
        )?;
        let mut report = ReconcileReport {
            chain_nonce: mined,
            ..ReconcileReport::default()
        };
        for rec in self.open_records()? {
            let status = match rec.hash {
                Some(h) => chain.status(&TxId(h.to_vec())).await?,
                None => TxStatus::Unknown,
            };
            match status {
                TxStatus::Included { block, .. } => {
                    self.mark_included(rec.id, block.number, block.hash)?;
                    report.included += 1;
                }
                TxStatus::Pending => {}
                TxStatus::Unknown if rec.nonce < mined => {
                    // Another transaction used this nonce: ours can never
                    // be mined, so it may be signed again with a new one.
                    self.renonce(rec.id)?;
                    report.renonced += 1;
                }
                TxStatus::Unknown => {
                    if let Some(raw) = &rec.raw {
                        chain.broadcast(raw).await?;
                        self.set_state(rec.id, TxState::Sent)?;
                        report.rebroadcast += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    /// The lane's chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }
}
