//! The chain-agnostic lane: the intents of one sender on one chain, moved to
//! final through a VM adapter ([`VmLane`]), with every step written to the
//! [`Store`] first. It imports no VM crate; Solana plugs in today.
//!
//! Life of an intent (one row; any number of attempts, one fence each):
//!
//! ```text
//! reserve          -> Reserved   payload stored (idempotent by intent key)
//! tick: simulate   -> (a payload that fails as it is stays Reserved, with
//!                     the error on the row: the state may change)
//!       sign       -> Signed     attempt (fence, id, bytes, cost) stored
//!       broadcast  -> Sent       the same bytes again while it is live
//!       watch      -> Included   the attempt's block stored
//!       finalize   -> Final      the block is final and still canonical
//!       fork       -> Sent       the block left the chain: watch again
//!       proof      -> Reserved   every attempt is proven dead: the next
//!                                tick signs under a fresh fence
//! withdraw         -> Dead       only while no attempt can ever execute
//! ```
//!
//! **Why nothing executes twice.** A new attempt (under a new fence) is
//! signed only once every earlier attempt of the intent is proven dead by
//! the adapter ([`AttemptStatus::Dead`]): at any moment at most one attempt
//! of an intent can still be included. An attempt is stored before it is
//! broadcast, so a crash at any point leaves either nothing on the network
//! or a stored attempt whose fate the next tick reads; restarting is the
//! ordinary tick. One node not knowing an attempt proves nothing: only the
//! adapter's proof does (Solana: a finalized height past the blockhash's
//! last valid height, and the signature absent from history).
//!
//! **Why nothing is lost.** An intent is final only with the block that
//! holds its attempt final and canonical (re-checked through
//! [`VmLane::block_at`]); an intent that executed and failed is final with
//! `success = false`, and its owner (payouts) decides what to do with its
//! items. An intent is never given up by the lane itself.

use std::fmt;
use std::sync::Arc;

use rusqlite::{OptionalExtension, Row, params};
use switchyard_core::chain::vm::{Fence, VmLane};

use crate::error::{Error, Result};
use crate::states::{AttemptState, IntentState};
use crate::store::Store;

mod tick;

pub use tick::VmTickReport;

/// A point in the send path, for a crash hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmStage {
    /// The attempt is signed and stored, not broadcast.
    Signed,
    /// The attempt is broadcast and recorded as sent.
    Broadcast,
    /// The attempt is recorded in a block.
    Included,
}

/// Called at each [`VmStage`] with the intent key; the daemon uses it for
/// crash drills.
pub type VmHook = Arc<dyn Fn(VmStage, &str) + Send + Sync>;

/// An intent as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// Row id.
    pub id: i64,
    /// Idempotency key.
    pub key: String,
    /// What it executes, in the adapter's encoding.
    pub payload: Vec<u8>,
    /// State.
    pub state: IntentState,
    /// The attempt in a block, if one is.
    pub attempt: Option<i64>,
    /// Its block (number, hash).
    pub block: Option<(u64, [u8; 32])>,
    /// Whether the included attempt executed successfully.
    pub success: Option<bool>,
    /// Why it was withdrawn.
    pub why_dead: Option<String>,
    /// Why its last step failed (cleared by the next one that works).
    pub last_error: Option<String>,
    /// When it last changed, unix ms.
    pub updated_ms: i64,
}

/// How `last_error` starts when the chain refused the payload as it is (a
/// simulation that reverts), not a transport failure.
pub const FAILS_AS_IS: &str = "fails as it is: ";

impl Intent {
    /// Final and executed.
    pub fn succeeded(&self) -> bool {
        self.state == IntentState::Final && self.success == Some(true)
    }

    /// Its last step failed because the chain refuses the payload as it is
    /// (it may pass later: the state it depends on can change).
    pub fn fails_as_is(&self) -> bool {
        self.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with(FAILS_AS_IS))
    }
}

/// One attempt as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Row id.
    pub id: i64,
    /// Its replay fence.
    pub fence: Fence,
    /// The id the chain knows it by.
    pub tx_id: Vec<u8>,
    /// Wire bytes.
    pub raw: Vec<u8>,
    /// The most it can cost, native base units.
    pub max_cost: u128,
    /// State.
    pub state: AttemptState,
    /// Why it can never be included, once proven.
    pub dead_proof: Option<String>,
    /// When it was last broadcast, unix ms.
    pub sent_ms: Option<i64>,
}

/// The intents of one sender on one chain, over a VM adapter.
#[derive(Clone)]
pub struct GenericLane {
    store: Arc<Store>,
    chain: String,
    sender: String,
    adapter: Arc<dyn VmLane>,
    hook: Option<VmHook>,
    rebroadcast_ms: i64,
}

impl fmt::Debug for GenericLane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenericLane")
            .field("chain", &self.chain)
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

pub(super) use crate::lane::{corrupt, now_ms};

const INTENT_COLUMNS: &str = "id, intent, payload, state, attempt_id, block_number, block_hash, success, why_dead, last_error, updated_ms";

fn intent_row(r: &Row<'_>) -> rusqlite::Result<(Intent, Option<i64>, Option<Vec<u8>>)> {
    Ok((
        Intent {
            id: r.get(0)?,
            key: r.get(1)?,
            payload: r.get(2)?,
            state: r.get(3)?,
            attempt: r.get(4)?,
            block: None,
            success: r.get(7)?,
            why_dead: r.get(8)?,
            last_error: r.get(9)?,
            updated_ms: r.get(10)?,
        },
        r.get(5)?,
        r.get(6)?,
    ))
}

fn decode_intent(row: (Intent, Option<i64>, Option<Vec<u8>>)) -> Result<Intent> {
    let (mut i, number, hash) = row;
    i.block = match (number, hash) {
        (Some(n), Some(h)) => Some((
            u64::try_from(n).map_err(|_| corrupt("negative block number"))?,
            h.try_into().map_err(|_| corrupt("bad block hash"))?,
        )),
        _ => None,
    };
    Ok(i)
}

/// An attempt row as read, before its text and integers are checked.
struct RawAttempt {
    id: i64,
    fence: Vec<u8>,
    valid_until: Option<i64>,
    tx_id: Vec<u8>,
    raw: Vec<u8>,
    max_cost: String,
    state: AttemptState,
    dead_proof: Option<String>,
    sent_ms: Option<i64>,
}

fn attempt_row(r: &Row<'_>) -> rusqlite::Result<RawAttempt> {
    Ok(RawAttempt {
        id: r.get(0)?,
        fence: r.get(1)?,
        valid_until: r.get(2)?,
        tx_id: r.get(3)?,
        raw: r.get(4)?,
        max_cost: r.get(5)?,
        state: r.get(6)?,
        dead_proof: r.get(7)?,
        sent_ms: r.get(8)?,
    })
}

impl RawAttempt {
    fn decode(self) -> Result<Attempt> {
        Ok(Attempt {
            id: self.id,
            fence: Fence {
                value: self.fence,
                valid_until: self
                    .valid_until
                    .map(|v| u64::try_from(v).map_err(|_| corrupt("negative valid_until")))
                    .transpose()?,
            },
            tx_id: self.tx_id,
            raw: self.raw,
            max_cost: self.max_cost.parse().map_err(|_| corrupt("bad max_cost"))?,
            state: self.state,
            dead_proof: self.dead_proof,
            sent_ms: self.sent_ms,
        })
    }
}

impl GenericLane {
    /// The lane of `adapter`'s sender on the topology chain `chain`.
    pub fn new(store: Arc<Store>, chain: &str, adapter: Arc<dyn VmLane>) -> Self {
        Self {
            store,
            chain: chain.to_owned(),
            sender: adapter.sender(),
            adapter,
            hook: None,
            rebroadcast_ms: 2_000,
        }
    }

    /// Installs a hook called at each [`VmStage`].
    pub fn with_hook(mut self, hook: VmHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Broadcasts a live attempt's bytes again after this long (default
    /// 2 s): nodes drop transactions silently.
    pub fn with_rebroadcast_ms(mut self, ms: u64) -> Self {
        self.rebroadcast_ms = i64::try_from(ms).unwrap_or(i64::MAX);
        self
    }

    /// The chain's name.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The sender.
    pub fn sender(&self) -> &str {
        &self.sender
    }

    /// The adapter.
    pub fn adapter(&self) -> &Arc<dyn VmLane> {
        &self.adapter
    }

    /// Stores `payload` under `key`. The same key returns the stored
    /// intent; the same key with another payload is an error.
    pub fn reserve(&self, key: &str, payload: &[u8]) -> Result<Intent> {
        {
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            self.reserve_in(&t, key, payload)?;
            t.commit()?;
        }
        self.get(key)?
            .ok_or_else(|| corrupt("reserved intent vanished"))
    }

    /// [`GenericLane::reserve`] inside the caller's transaction, so that
    /// what the intent is for (a payout batch) and the intent commit
    /// together or not at all.
    pub fn reserve_in(
        &self,
        t: &rusqlite::Transaction<'_>,
        key: &str,
        payload: &[u8],
    ) -> Result<()> {
        let existing: Option<Vec<u8>> = t
            .query_row(
                "SELECT payload FROM vm_intent WHERE chain = ?1 AND sender = ?2 AND intent = ?3",
                params![self.chain, self.sender, key],
                |r| r.get(0),
            )
            .optional()?;
        match existing {
            Some(p) if p != payload => Err(Error::IntentMismatch(key.to_owned())),
            Some(_) => Ok(()),
            None => {
                t.execute(
                    "INSERT INTO vm_intent (chain, sender, intent, payload, state, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    params![self.chain, self.sender, key, payload, IntentState::Reserved, now_ms()],
                )?;
                Ok(())
            }
        }
    }

    /// An intent by key.
    pub fn get(&self, key: &str) -> Result<Option<Intent>> {
        let r = self
            .store
            .conn()
            .query_row(
                &format!("SELECT {INTENT_COLUMNS} FROM vm_intent WHERE chain = ?1 AND sender = ?2 AND intent = ?3"),
                params![self.chain, self.sender, key],
                intent_row,
            )
            .optional()?;
        r.map(decode_intent).transpose()
    }

    /// Intents not yet final or dead, oldest first.
    pub fn open_intents(&self) -> Result<Vec<Intent>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {INTENT_COLUMNS} FROM vm_intent WHERE chain = ?1 AND sender = ?2 AND state NOT IN (?3, ?4) ORDER BY id"
        ))?;
        let rows = stmt.query_map(
            params![
                self.chain,
                self.sender,
                IntentState::Final,
                IntentState::Dead
            ],
            intent_row,
        )?;
        rows.map(|r| decode_intent(r?)).collect()
    }

    /// Intents of this chain not yet final or dead that belong to another
    /// sender (a key changed while they were in flight: this lane never
    /// drives them), per sender: how many.
    pub fn others_open(&self) -> Result<Vec<(String, i64)>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT sender, COUNT(*) FROM vm_intent WHERE chain = ?1 AND sender != ?2 AND state NOT IN (?3, ?4) GROUP BY sender ORDER BY sender",
        )?;
        let rows = stmt.query_map(
            params![
                self.chain,
                self.sender,
                IntentState::Final,
                IntentState::Dead
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Every attempt of intent `id`, oldest first.
    pub fn attempts(&self, id: i64) -> Result<Vec<Attempt>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT id, fence, valid_until, tx_id, raw, max_cost, state, dead_proof, sent_ms FROM vm_attempt WHERE intent_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![id], attempt_row)?;
        rows.map(|r| r?.decode()).collect()
    }

    /// Withdraws intent `key` for `why`: it becomes [`IntentState::Dead`]
    /// only if no attempt of it can ever execute (none was signed, or every
    /// one is proven dead). `Ok(false)`: an attempt may still execute, or
    /// it is final; nothing changed.
    pub fn withdraw(&self, key: &str, why: &str) -> Result<bool> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let n = t.execute(
            "UPDATE vm_intent SET state = ?1, why_dead = ?2, updated_ms = ?3
             WHERE chain = ?4 AND sender = ?5 AND intent = ?6 AND state = ?7
               AND NOT EXISTS (SELECT 1 FROM vm_attempt a WHERE a.intent_id = vm_intent.id AND a.state != ?8)",
            params![
                IntentState::Dead,
                why,
                now_ms(),
                self.chain,
                self.sender,
                key,
                IntentState::Reserved,
                AttemptState::Dead
            ],
        )?;
        t.commit()?;
        Ok(n == 1)
    }

    /// Open intents whose last step failed: (key, error).
    pub fn failing(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .open_intents()?
            .into_iter()
            .filter_map(|i| i.last_error.map(|e| (i.key, e)))
            .collect())
    }

    fn set_error(&self, id: i64, error: Option<&str>) -> Result<()> {
        self.store.conn().execute(
            "UPDATE vm_intent SET last_error = ?1 WHERE id = ?2 AND last_error IS NOT ?1",
            params![error, id],
        )?;
        Ok(())
    }

    fn hook(&self, stage: VmStage, key: &str) {
        if let Some(h) = &self.hook {
            h(stage, key);
        }
    }
}
