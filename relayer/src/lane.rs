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
//! most one of them is ever mined. A row gets a new nonce only when another
//! transaction (not one of its attempts) consumed the old one, so none of
//! its attempts can be mined any more. An intent is reserved at most once
//! per lane. The contracts' replay guards (batch id, deposit id) are the
//! last line behind these.
//!
//! [`Lane::tick`] drives every open row one step; it is what the daemon's
//! lane task calls in a loop and what a restarted daemon calls first, so
//! resuming after a crash is the ordinary path, not a special one.

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

fn now_ms() -> i64 {
    i64::try_from(switchyard_core::now_ms()).unwrap_or(i64::MAX)
}

fn corrupt(what: &str) -> Error {
    Error::Corrupt(what.to_owned())
}

const COLUMNS: &str = "id, intent, nonce, to_addr, data, value, gas_limit, finality, state, cancelled, reverted, hash, raw, max_fee, tip, sent_head, block_number, block_hash";

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
    })
}

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::Corrupt(format!("{what} {v} does not fit the store")))
}

/// The node refuses the bytes for their price (the base fee rose past the
/// cap, or a pooled transaction with the same nonce pays more).
fn underpriced(e: &ChainError) -> bool {
    match e {
        ChainError::Rpc { message, .. } => {
            let m = message.to_lowercase();
            m.contains("underpriced")
                || m.contains("less than block base fee")
                || m.contains("fee cap")
                || m.contains("max fee per gas")
        }
        _ => false,
    }
}

/// The node has already mined this nonce.
fn nonce_used(e: &ChainError) -> bool {
    matches!(e, ChainError::Rpc { message, .. } if message.to_lowercase().contains("nonce too low"))
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
        store.conn().execute(
            "INSERT OR IGNORE INTO lane (chain_id, sender, next_nonce) VALUES (?1, ?2, 0)",
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
                "INSERT INTO tx (chain_id, sender, intent, nonce, to_addr, data, value, gas_limit, finality, state, created_ms, updated_ms)
                 SELECT ?1, ?2, ?3, next_nonce, ?4, ?5, ?6, ?7, ?8, 'reserved', ?9, ?9 FROM lane WHERE chain_id = ?1 AND sender = ?2",
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
            "SELECT {COLUMNS} FROM tx WHERE chain_id = ?1 AND sender = ?2 AND state != 'final' ORDER BY nonce"
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

    fn attempt_raw(&self, hash: &B256) -> Result<Vec<u8>> {
        Ok(self.store.conn().query_row(
            "SELECT raw FROM attempt WHERE hash = ?1",
            params![hash.to_vec()],
            |r| r.get(0),
        )?)
    }

    fn set_state(&self, id: i64, state: TxState) -> Result<()> {
        self.store.conn().execute(
            "UPDATE tx SET state = ?1, updated_ms = ?2 WHERE id = ?3",
            params![state.as_str(), now_ms(), id],
        )?;
        Ok(())
    }

    fn hook(&self, stage: Stage, id: i64) -> Result<()> {
        if let Some(h) = &self.hook {
            h(stage, &self.by_id(id)?);
        }
        Ok(())
    }

    /// Signs an attempt of `rec` at `fees`, stores it (row and attempt, one
    /// SQLite transaction) and only then broadcasts it.
    async fn attempt(
        &self,
        chain: &EvmChain,
        rec: &TxRecord,
        fees: Fees,
        gas_limit: u64,
        head: u64,
    ) -> Result<()> {
        let (to, data, value) = if rec.cancelled.is_some() {
            (self.sender, Bytes::new(), U256::ZERO)
        } else {
            (
                rec.call.to,
                Bytes::from(rec.call.data.clone()),
                rec.call.value,
            )
        };
        let tx = EvmTx {
            to,
            data,
            value,
            nonce: rec.nonce,
            gas_limit,
            max_fee_per_gas: fees.max,
            max_priority_fee_per_gas: fees.tip,
        };
        let (id, raw) = chain.sign(&tx)?;
        {
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            let now = now_ms();
            t.execute(
                "INSERT INTO attempt (tx_id, nonce, hash, raw, max_fee, tip, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![rec.id, to_i64(rec.nonce, "nonce")?, id.0, raw, fees.max.to_string(), fees.tip.to_string(), now],
            )?;
            t.execute(
                "UPDATE tx SET state = 'signed', hash = ?1, raw = ?2, max_fee = ?3, tip = ?4, gas_limit = ?5, sent_head = ?6, updated_ms = ?7 WHERE id = ?8",
                params![id.0, raw, fees.max.to_string(), fees.tip.to_string(), to_i64(gas_limit, "gas limit")?, to_i64(head, "head")?, now, rec.id],
            )?;
            t.commit()?;
        }
        self.hook(Stage::Signed, rec.id)?;
        match chain.broadcast(&raw).await {
            Ok(()) => {}
            // Another attempt of ours with this nonce is pooled at a higher
            // price, or the nonce is already mined: the next tick sorts out
            // which; these bytes are stored and can go out again.
            Err(e) if underpriced(&e) || nonce_used(&e) => {
                tracing::warn!(chain_id = self.chain_id, nonce = rec.nonce, error = %e, "attempt refused for now");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        self.set_state(rec.id, TxState::Sent)?;
        self.hook(Stage::Broadcast, rec.id)?;
        Ok(())
    }

    async fn market(&self, chain: &EvmChain) -> Result<(u128, u128)> {
        let f = chain.fees().await?;
        let base = u128::try_from(f.base).unwrap_or(u128::MAX);
        let tip = u128::try_from(f.priority).unwrap_or(u128::MAX);
        Ok((base, tip))
    }

    /// Gives row `id` the lane's next nonce; its old attempts stay on file.
    fn renonce(&self, id: i64) -> Result<()> {
        let (c, s) = self.key()?;
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        t.execute(
            "UPDATE tx SET nonce = (SELECT next_nonce FROM lane WHERE chain_id = ?1 AND sender = ?2),
                state = 'reserved', hash = NULL, raw = NULL, max_fee = NULL, tip = NULL, sent_head = NULL,
                block_number = NULL, block_hash = NULL, updated_ms = ?3 WHERE id = ?4",
            params![c, s, now_ms(), id],
        )?;
        t.execute(
            "UPDATE lane SET next_nonce = next_nonce + 1 WHERE chain_id = ?1 AND sender = ?2",
            params![c, s],
        )?;
        t.commit()?;
        Ok(())
    }

    /// The first attempt of `id` found in a block.
    async fn find_included(
        &self,
        chain: &EvmChain,
        id: i64,
    ) -> Result<Option<(B256, BlockRef, bool)>> {
        for h in self.attempts(id)? {
            if let TxStatus::Included { block, success } = chain.status(&TxId(h.to_vec())).await? {
                return Ok(Some((h, block, success)));
            }
        }
        Ok(None)
    }

    fn mark_included(&self, id: i64, hash: B256, block: &BlockRef, success: bool) -> Result<()> {
        let raw = self.attempt_raw(&hash)?;
        self.store.conn().execute(
            "UPDATE tx SET state = 'included', hash = ?1, raw = ?2, reverted = ?3, block_number = ?4, block_hash = ?5, updated_ms = ?6 WHERE id = ?7",
            params![hash.to_vec(), raw, !success, to_i64(block.number, "block number")?, block.hash.to_vec(), now_ms(), id],
        )?;
        Ok(())
    }

    async fn is_final(
        &self,
        chain: &EvmChain,
        rule: Finality,
        block: u64,
        head: u64,
    ) -> Result<bool> {
        Ok(match rule {
            Finality::Blocks { blocks } => {
                head.saturating_add(1).saturating_sub(block) >= u64::from(blocks.max(1))
            }
            Finality::Tag { .. } | Finality::Commitment { .. } => {
                chain.finalized_head().await?.number >= block
            }
        })
    }

    /// Moves the lane's next nonce past what the chain has mined (sends by
    /// someone else from the same key).
    fn catch_up(&self, mined: u64) -> Result<()> {
        let (c, s) = self.key()?;
        self.store.conn().execute(
            "UPDATE lane SET next_nonce = MAX(next_nonce, ?1) WHERE chain_id = ?2 AND sender = ?3",
            params![to_i64(mined, "nonce")?, c, s],
        )?;
        Ok(())
    }

    /// Drives every open row one step: see the module docs. Safe to call
    /// at any time, any number of times, after any crash.
    pub async fn tick(&self, chain: &EvmChain) -> Result<TickReport> {
        let head = chain.head().await?;
        let mined = chain.nonce(false).await?;
        self.catch_up(mined)?;
        let mut report = TickReport {
            chain_nonce: mined,
            head: head.number,
            ..TickReport::default()
        };
        // Whether a row of lower nonce is not yet in a block.
        let mut ahead = false;
        for rec in self.open_records()? {
            let waiting = rec.state != TxState::Included;
            self.step(chain, rec, head.number, mined, ahead, &mut report)
                .await?;
            ahead |= waiting;
        }
        Ok(report)
    }

    async fn step(
        &self,
        chain: &EvmChain,
        rec: TxRecord,
        head: u64,
        mined: u64,
        ahead: bool,
        report: &mut TickReport,
    ) -> Result<()> {
        match rec.state {
            TxState::Reserved => {
                if rec.nonce < mined && self.find_included(chain, rec.id).await?.is_none() {
                    self.renonce(rec.id)?;
                    report.renonced += 1;
                    return Ok(());
                }
                let mut rec = rec;
                let mut gas = 21_000;
                if rec.cancelled.is_none() {
                    match self.simulate(chain, &rec).await {
                        Ok(units) => {
                            gas = rec
                                .call
                                .gas_limit
                                .unwrap_or_else(|| self.policy.gas_limit(units));
                        }
                        // It may depend on an earlier transaction of this
                        // lane that is not mined yet: wait for it.
                        Err(Error::Chain(ChainError::WouldRevert(_))) if ahead => {
                            return Ok(());
                        }
                        Err(Error::Chain(ChainError::WouldRevert(why))) => {
                            self.cancel(rec.id, &why)?;
                            report.cancelled += 1;
                            rec = self.by_id(rec.id)?;
                        }
                        Err(e) => return Err(e),
                    }
                }
                let (base, tip) = self.market(chain).await?;
                self.attempt(chain, &rec, self.policy.price(base, tip), gas, head)
                    .await?;
                report.sent += 1;
            }
            TxState::Signed | TxState::Sent => {
                if let Some((h, block, ok)) = self.find_included(chain, rec.id).await? {
                    self.mark_included(rec.id, h, &block, ok)?;
                    report.included += 1;
                    return Ok(());
                }
                if rec.nonce < mined {
                    // Consumed by a transaction that is none of our attempts.
                    self.renonce(rec.id)?;
                    report.renonced += 1;
                    return Ok(());
                }
                let waited = head.saturating_sub(rec.sent_head.unwrap_or(head));
                let gas = rec.call.gas_limit.unwrap_or(21_000);
                if waited >= self.policy.replace_after_blocks {
                    let (base, tip) = self.market(chain).await?;
                    let old = rec.fees.ok_or_else(|| corrupt("sent row without fees"))?;
                    if let Some(new) = self.policy.bump(old, base, tip) {
                        tracing::info!(
                            chain_id = self.chain_id,
                            nonce = rec.nonce,
                            old_max = old.max,
                            new_max = new.max,
                            "replacing unmined transaction"
                        );
                        self.attempt(chain, &rec, new, gas, head).await?;
                        report.replaced += 1;
                        return Ok(());
                    }
                }
                self.rebroadcast(chain, &rec, report).await?;
            }
            TxState::Included => {
                let Some((number, hash)) = rec.block else {
                    return Err(corrupt("included row without block"));
                };
                let canonical = chain.block_at(number).await?;
                if canonical.as_ref().map(|b| B256::from(b.hash)) != Some(hash) {
                    report.reorged += 1;
                    tracing::warn!(
                        chain_id = self.chain_id,
                        nonce = rec.nonce,
                        block = number,
                        "block of an included transaction left the chain"
                    );
                    if let Some((h, block, ok)) = self.find_included(chain, rec.id).await? {
                        self.mark_included(rec.id, h, &block, ok)?;
                        return Ok(());
                    }
                    // Back to sent, write-ahead, then the same bytes again.
                    self.store.conn().execute(
                        "UPDATE tx SET state = 'sent', block_number = NULL, block_hash = NULL, reverted = 0, sent_head = ?1, updated_ms = ?2 WHERE id = ?3",
                        params![to_i64(head, "head")?, now_ms(), rec.id],
                    )?;
                    let rec = self.by_id(rec.id)?;
                    self.rebroadcast(chain, &rec, report).await?;
                } else if self.is_final(chain, rec.finality, number, head).await? {
                    self.set_state(rec.id, TxState::Final)?;
                    report.finalized += 1;
                }
            }
            TxState::Final => {}
        }
        Ok(())
    }

    async fn rebroadcast(
        &self,
        chain: &EvmChain,
        rec: &TxRecord,
        report: &mut TickReport,
    ) -> Result<()> {
        let Some(h) = rec.hash else { return Ok(()) };
        if chain.status(&TxId(h.to_vec())).await? == TxStatus::Pending {
            return Ok(());
        }
        let raw = rec
            .raw
            .clone()
            .ok_or_else(|| corrupt("signed row without bytes"))?;
        match chain.broadcast(&raw).await {
            Ok(()) => {
                if rec.state == TxState::Signed {
                    self.set_state(rec.id, TxState::Sent)?;
                }
                report.rebroadcast += 1;
                self.hook(Stage::Broadcast, rec.id)?;
            }
            Err(e) if underpriced(&e) || nonce_used(&e) => {
                tracing::info!(chain_id = self.chain_id, nonce = rec.nonce, error = %e, "stored attempt not accepted; waiting to replace");
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    async fn simulate(&self, chain: &EvmChain, rec: &TxRecord) -> Result<u64> {
        let tx = EvmTx {
            to: rec.call.to,
            data: Bytes::from(rec.call.data.clone()),
            value: rec.call.value,
            nonce: rec.nonce,
            gas_limit: rec.call.gas_limit.unwrap_or(0),
            max_fee_per_gas: 0,
            max_priority_fee_per_gas: 0,
        };
        Ok(chain.simulate(&tx).await?.units)
    }

    fn cancel(&self, id: i64, why: &str) -> Result<()> {
        tracing::warn!(
            chain_id = self.chain_id,
            id,
            reason = why,
            "call would revert; filling its nonce with a no-op"
        );
        self.store.conn().execute(
            "UPDATE tx SET cancelled = ?1, updated_ms = ?2 WHERE id = ?3",
            params![why, now_ms(), id],
        )?;
        Ok(())
    }
}
