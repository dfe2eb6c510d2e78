//! Merchant payouts: durable intake, batching per (chain, token) into one
//! `PayoutBatcher.execute`, and per-item status through the lane.
//!
//! ```text
//! queued    stored with the request, before the answer (again after its
//!           batch was proven dead: see `batch`)
//! routed    its chain has a batcher, a lane and enough float
//! held      waiting (float too low, no executor, a chain that cannot be
//!           read, the governor, an operator): rechecked every step
//! batched   in a signed batch written to the store
//! submitted the batch's transaction is reserved on the lane
//! confirmed the batch id was executed in a block not yet at depth
//! final     that block is canonical at the chain's depth, and the `Paid`
//!           event of that transaction for this item matches (index,
//!           recipient, amount)
//! failed    only when it can never be paid: rejected by an operator, or
//!           refused by the token once its batch is cancelled on chain;
//!           cancelled: by the merchant before batching
//! ```
//!
//! Each chain fails on its own: a chain that cannot be read or written now
//! holds its own items with the reason, is listed by
//! [`Payouts::chain_errors`], and the other chains go on.
//!
//! The batch id and deadline are written with the batch, and ECDSA
//! signatures are deterministic (RFC 6979), so after a crash between
//! writing a batch and reserving its transaction the very same calldata is
//! reserved again. `PayoutBatcher` refuses a batch id twice: a batch can
//! never pay twice even if everything above failed.

use crate::states::sql::{PAYOUT_CANCELLED, PAYOUT_HELD, PAYOUT_QUEUED, PAYOUT_ROUTED};
use std::collections::HashMap;
use std::sync::Arc;

use alloy::primitives::{Address as EvmAddress, B256, U256, keccak256};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use switchyard_core::UsdE8;
use switchyard_core::attest::{Attestation, Attester, PayoutItem};
use switchyard_core::finality::Finality;

use crate::error::{Error, Result};
use crate::lane::{Call, TxState};
use crate::states::{BatchState, PayoutState};
use crate::store::Store;
use crate::transfer::LaneHandle;

mod approvals;
mod batch;
mod budget;
mod reconcile;
mod route;
mod vm;

pub use approvals::ApprovalTiers;
use budget::check_budget;
pub(crate) use budget::merchant_used;
pub use budget::{MerchantBudget, OverBudget};
pub use vm::VmPayoutChain;

/// One validated item of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPayout {
    /// `chain:ASSET`.
    pub asset: String,
    /// The asset's chain, by its topology name.
    pub chain: String,
    /// Its EVM chain id; 0 on a chain without one (Solana).
    pub chain_id: u64,
    /// Token, as the chain writes it (EIP-55 contract address, Solana
    /// mint).
    pub token: String,
    /// Recipient, as the chain writes it (EIP-55; a Solana wallet).
    pub recipient: String,
    /// Base units, > 0.
    pub amount: U256,
    /// Finality rule for this amount.
    pub finality: Finality,
    /// Free text for the merchant.
    pub memo: Option<String>,
    /// `chain:ASSET` that tops up this chain's float when it is short.
    pub source: Option<String>,
    /// Route mode for that top-up.
    pub mode: String,
    /// Distinct operator approvals needed before it may be paid (0-2).
    pub approvals: u8,
    /// Its value in USD (0: no price).
    pub usd: UsdE8,
}

/// A chain's float is short of what its held payouts need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall {
    /// EVM chain id (0 on a chain without one).
    pub chain_id: u64,
    /// Token: its EIP-55 address on EVM; `chain/mint` elsewhere (the
    /// funding ledger's key).
    pub token: String,
    /// `chain:ASSET` of the held items.
    pub asset: String,
    /// Missing, base units.
    pub amount: U256,
    /// Funding source of the oldest held item that names one.
    pub source: String,
    /// Its route mode.
    pub mode: String,
    /// Who is funded: the chain's `PayoutBatcher`, or the hot wallet of a
    /// generic-lane chain, as the chain prints it.
    pub recipient: String,
}

/// Where a chain's payouts are paid from.
#[derive(Clone, Debug)]
pub struct PayoutChain {
    /// The lane.
    pub lane: LaneHandle,
    /// `PayoutBatcher` there.
    pub batcher: EvmAddress,
}

/// Batching settings.
#[derive(Clone, Copy, Debug)]
pub struct BatchPolicy {
    /// Most items per batch.
    pub max_items: usize,
    /// A batch is flushed once its oldest item waited this long.
    pub max_age_ms: u64,
    /// Validity of a signed batch, seconds.
    pub ttl_s: u64,
}

/// An item as it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PayoutView {
    /// `po_` + 16 hex digits.
    pub id: String,
    /// The request's idempotency key.
    pub idempotency_key: String,
    /// Position in the request.
    pub index: u32,
    /// `chain:ASSET`.
    pub to: String,
    /// Recipient.
    pub recipient: String,
    /// Human units of the asset, decimal (as submitted); null only if
    /// the asset has left the topology.
    pub amount: Option<String>,
    /// Base units, decimal.
    pub amount_base: String,
    /// Memo.
    pub memo: Option<String>,
    /// See the module docs.
    pub state: String,
    /// Confirmations while `confirmed`.
    pub confirmations: Option<u64>,
    /// Why `held` or `failed`.
    pub reason: Option<String>,
    /// Batch id once batched.
    pub batch_id: Option<String>,
    /// Transaction once submitted (latest attempt, or the mined one).
    pub tx: Option<String>,
    /// Block once included.
    pub block: Option<u64>,
    /// Creation time, unix ms.
    pub created_ms: i64,
    /// Cursor for `payout_list`.
    #[serde(skip)]
    pub seq: i64,
    /// The merchant (API key name) that submitted it.
    pub owner: String,
}

/// What an operator's approval did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// Distinct operators who approved so far.
    pub approvals: usize,
    /// How many it needs.
    pub needed: i64,
    /// It was admitted past the governor.
    pub admitted: bool,
    /// The audit entry, written with it.
    pub audit: crate::AuditEntry,
}

/// Outcome of a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Submitted {
    /// False when the key was seen before with this body.
    pub created: bool,
    /// Item ids in request order.
    pub ids: Vec<String>,
}

/// Item counts by state.
pub type StateCounts = Vec<(String, i64)>;

/// Called at each batch stage (`written`, `submitted`) with the batch id;
/// the daemon uses it for crash drills.
pub type BatchHook = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Why a chain takes no new payouts now (paused, breaker open), if so:
/// called with the item's EVM chain id (0 for none) and its chain's
/// topology name when stored (rows of schema 6 and before have none).
pub type ChainGate = Arc<dyn Fn(u64, Option<&str>) -> Option<String> + Send + Sync>;

/// Intake, batching and status of payouts.
#[derive(Clone)]
pub struct Payouts {
    store: Arc<Store>,
    chains: HashMap<u64, PayoutChain>,
    vm: HashMap<String, VmPayoutChain>,
    vm_replan_ms: u64,
    attester: Arc<dyn Attester>,
    policy: BatchPolicy,
    hook: Option<BatchHook>,
    gate: Option<ChainGate>,
    governor: HashMap<u64, crate::governor::Limit>,
    budgets: HashMap<String, MerchantBudget>,
    tiers: Option<ApprovalTiers>,
    first_payout_delay_ms: u64,
    failing: Arc<std::sync::Mutex<ChainErrors>>,
    holds: Arc<std::sync::Mutex<Holds>>,
    decimals: HashMap<String, u8>,
}

/// Batchers the token refuses to let pay: (chain id, token) -> (why, since ms).
type Holds = HashMap<(u64, String), (String, i64)>;

/// Chains whose last step failed, and those that failed in this step.
#[derive(Debug, Default)]
struct ChainErrors {
    last: HashMap<u64, (String, i64)>,
    this_step: std::collections::HashSet<u64>,
    vm_last: HashMap<String, (String, i64)>,
    vm_this_step: std::collections::HashSet<String>,
}

impl std::fmt::Debug for Payouts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payouts")
            .field("chains", &self.chains.keys().collect::<Vec<_>>())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    i64::try_from(switchyard_core::now_ms()).unwrap_or(i64::MAX)
}

fn payout_id(key: &str, index: usize) -> String {
    let h = keccak256(format!("switchyard/payout/{key}/{index}"));
    format!("po_{}", alloy::primitives::hex::encode(&h[..8]))
}

fn batch_intent(batch: &str) -> String {
    format!("payout-batch:{batch}")
}

const VIEW: &str = "SELECT p.seq, p.id, p.request_key, p.idx, p.asset, p.recipient, p.amount, p.memo, p.state, p.reason, p.batch_id, p.created_ms, b.chain_id, p.owner, p.paid_tx, p.paid_block, p.chain FROM payout p LEFT JOIN payout_batch b ON b.id = p.batch_id";

type ViewRow = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
);

fn view_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ViewRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
        r.get(14)?,
        r.get(15)?,
        r.get(16)?,
    ))
}

impl Payouts {
    /// Payouts over `chains` (by EVM chain id), batches signed by the
    /// signer set behind `attester`.
    pub fn new(
        store: Arc<Store>,
        chains: HashMap<u64, PayoutChain>,
        attester: Arc<dyn Attester>,
        policy: BatchPolicy,
    ) -> Self {
        Self {
            store,
            chains,
            vm: HashMap::new(),
            vm_replan_ms: 60_000,
            attester,
            policy,
            hook: None,
            gate: None,
            governor: HashMap::new(),
            budgets: HashMap::new(),
            tiers: None,
            first_payout_delay_ms: 0,
            failing: Arc::default(),
            holds: Arc::default(),
            decimals: HashMap::new(),
        }
    }

    /// Holds a payout to an address never paid on its chain for `ms`
    /// after intake (0: off), so an operator can look before it leaves.
    pub fn with_first_payout_delay(mut self, ms: u64) -> Self {
        self.first_payout_delay_ms = ms;
        self
    }

    /// Installs the approval tiers counted over each merchant's window
    /// (see [`ApprovalTiers`]).
    pub fn with_approval_tiers(mut self, tiers: Option<ApprovalTiers>) -> Self {
        self.tiers = tiers;
        self
    }

    /// Installs the merchants' budgets, by merchant (API key name).
    pub fn with_budgets(mut self, budgets: HashMap<String, MerchantBudget>) -> Self {
        self.budgets = budgets;
        self
    }

    /// The merchants' budgets.
    pub fn budgets(&self) -> &HashMap<String, MerchantBudget> {
        &self.budgets
    }

    /// Installs the decimals of each `chain:ASSET`, so that views show
    /// amounts in human units next to base units.
    pub fn with_decimals(mut self, decimals: HashMap<String, u8>) -> Self {
        self.decimals = decimals;
        self
    }

    /// The token refuses transfers out of a chain's batcher for every
    /// recipient: its items wait until it does not (see `route`).
    pub(crate) fn hold_batcher(&self, chain_id: u64, token: &str, why: &str) {
        tracing::error!(
            chain_id,
            token,
            why,
            "the token refuses transfers out of the batcher; holding the chain's payouts"
        );
        self.holds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((chain_id, token.to_owned()), (why.to_owned(), now_ms()));
    }

    /// Why the chain's batcher is held, if it is; a hold older than ten
    /// minutes lapses, so a real batch tries again (a token that refuses
    /// even a zero transfer would otherwise hold it for good).
    fn batcher_hold(&self, chain_id: u64, token: &str) -> Option<String> {
        let mut holds = self
            .holds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (chain_id, token.to_owned());
        match holds.get(&key) {
            Some((_, since)) if now_ms().saturating_sub(*since) > 600_000 => {
                holds.remove(&key);
                None
            }
            Some((why, _)) => Some(why.clone()),
            None => None,
        }
    }

    fn release_batcher(&self, chain_id: u64, token: &str) {
        self.holds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(chain_id, token.to_owned()));
    }

    fn errors(&self) -> std::sync::MutexGuard<'_, ChainErrors> {
        self.failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that a step failed on `chain_id` (kept until a step passes
    /// on that chain without failing).
    pub(crate) fn chain_failed(&self, chain_id: u64, what: &str) {
        tracing::warn!(
            chain_id,
            error = what,
            "payout step failed on this chain; the others go on"
        );
        let mut e = self.errors();
        e.this_step.insert(chain_id);
        let since = e.last.get(&chain_id).map_or(now_ms(), |(_, s)| *s);
        e.last.insert(chain_id, (what.to_owned(), since));
    }

    /// Chains whose last step failed: (EVM chain id, error, failing since ms).
    pub fn chain_errors(&self) -> Vec<(u64, String, i64)> {
        let mut v: Vec<(u64, String, i64)> = self
            .errors()
            .last
            .iter()
            .map(|(c, (e, s))| (*c, e.clone(), *s))
            .collect();
        v.sort_by_key(|(c, ..)| *c);
        v
    }

    /// Installs notional limits per EVM chain id.
    pub fn with_governor(mut self, limits: HashMap<u64, crate::governor::Limit>) -> Self {
        self.governor = limits;
        self
    }

    /// Installs the check that holds payouts for a paused or broken chain.
    pub fn with_gate(mut self, gate: ChainGate) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Installs a hook called at each batch stage.
    pub fn with_hook(mut self, hook: BatchHook) -> Self {
        self.hook = Some(hook);
        self
    }

    fn at(&self, stage: &str, batch: &str) {
        if let Some(h) = &self.hook {
            h(stage, batch);
        }
    }

    /// Whether `owner` already stored a request under `key` (whatever its
    /// body): intake then skips the checks that read a chain, since
    /// [`Payouts::submit`] answers it from the store.
    pub fn request_exists(&self, owner: &str, key: &str) -> Result<bool> {
        Ok(self.store.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM payout_request WHERE key = ?1)",
            params![format!("{owner}/{key}")],
            |r| r.get(0),
        )?)
    }

    /// Stores a request durably. The same key with the same `body_hash`
    /// returns the stored ids; with another body it is refused.
    /// Idempotency keys are per `owner` (the merchant).
    pub fn submit(
        &self,
        owner: &str,
        key: &str,
        body_hash: B256,
        items: &[NewPayout],
    ) -> Result<Submitted> {
        let key = &format!("{owner}/{key}");
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let prev: Option<Vec<u8>> = t
            .query_row(
                "SELECT body_hash FROM payout_request WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        let ids: Vec<String> = (0..items.len()).map(|i| payout_id(key, i)).collect();
        if let Some(prev) = prev {
            if prev.as_slice() != body_hash.as_slice() {
                return Err(Error::IdempotencyConflict(key.to_owned()));
            }
            let mut stmt =
                t.prepare("SELECT id FROM payout WHERE request_key = ?1 ORDER BY idx")?;
            let ids = stmt
                .query_map(params![key], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            return Ok(Submitted {
                created: false,
                ids,
            });
        }
        let now = now_ms();
        // The budget is decided inside the transaction that stores the
        // request, so two requests at once cannot both fit in one headroom.
        if let Some(b) = self.budgets.get(owner) {
            check_budget(&t, owner, b, items, now)?;
        }
        // Approvals from the aggregates too, so splitting a payout into
        // small items or requests asks for the same tier.
        let approvals = match &self.tiers {
            Some(tiers) => approvals::needed(&t, owner, tiers, items, now)?,
            None => items.iter().map(|p| p.approvals).collect(),
        };
        t.execute(
            "INSERT INTO payout_request (key, body_hash, items, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![key, body_hash.to_vec(), i64::try_from(items.len()).unwrap_or(i64::MAX), now],
        )?;
        {
            let mut stmt = t.prepare(
                &format!("INSERT INTO payout (id, request_key, idx, asset, chain_id, token, recipient, amount, finality, memo, source, mode, owner, approvals, usd, chain, state, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?13, ?14, ?15, ?16, ?17, {PAYOUT_QUEUED}, ?11, ?11)"),
            )?;
            for (i, (p, id)) in items.iter().zip(&ids).enumerate() {
                stmt.execute(params![
                    id,
                    key,
                    i64::try_from(i).unwrap_or(i64::MAX),
                    p.asset,
                    i64::try_from(p.chain_id).unwrap_or(i64::MAX),
                    p.token,
                    p.recipient,
                    p.amount.to_string(),
                    serde_json::to_string(&p.finality)
                        .map_err(|e| Error::Corrupt(e.to_string()))?,
                    p.memo,
                    now,
                    p.source,
                    p.mode,
                    owner,
                    approvals[i],
                    p.usd.0.to_string(),
                    p.chain
                ])?;
            }
        }
        t.commit()?;
        Ok(Submitted { created: true, ids })
    }

    fn view(&self, r: ViewRow) -> Result<PayoutView> {
        let (
            seq,
            id,
            key,
            idx,
            asset,
            recipient,
            amount,
            memo,
            state,
            reason,
            batch,
            created,
            chain,
            owner,
            paid_tx,
            paid_block,
            chain_name,
        ) = r;
        let key = key
            .strip_prefix(&format!("{owner}/"))
            .map(str::to_owned)
            .unwrap_or(key);
        let human = self.decimals.get(&asset).and_then(|d| {
            switchyard_core::Amount::parse_raw("amount", &amount, *d)
                .ok()
                .map(|a| a.to_string())
        });
        let mut v = PayoutView {
            id,
            idempotency_key: key,
            index: u32::try_from(idx).unwrap_or(u32::MAX),
            to: asset,
            recipient,
            amount: human,
            amount_base: amount,
            memo,
            state,
            confirmations: None,
            reason,
            batch_id: batch.clone(),
            tx: None,
            block: None,
            created_ms: created,
            seq,
            owner,
        };
        if let Some(tx) = paid_tx {
            // Settled (or seen executed) from this transaction's events.
            v.tx = Some(tx);
            v.block = paid_block.and_then(|b| u64::try_from(b).ok());
        } else if let (Some(batch), Some(0), Some(name)) = (&batch, chain, &chain_name) {
            v.tx = self.vm_tx(name, batch)?;
            v.block = paid_block.and_then(|b| u64::try_from(b).ok());
        } else if let (Some(batch), Some(chain)) = (batch, chain)
            && let Some(pc) = u64::try_from(chain).ok().and_then(|c| self.chains.get(&c))
            && let Some(rec) = pc.lane.lane.get(&batch_intent(&batch))?
        {
            v.tx = rec.hash.map(|h| h.to_string());
            v.block = rec.block.map(|(n, _)| n);
        }
        Ok(v)
    }

    /// One item by id.
    pub fn get(&self, id: &str) -> Result<Option<PayoutView>> {
        let row = self
            .store
            .conn()
            .query_row(&format!("{VIEW} WHERE p.id = ?1"), params![id], view_row)
            .optional()?;
        row.map(|r| self.view(r)).transpose()
    }

    /// Items after `cursor` (exclusive), optionally in one state, oldest
    /// first, at most `limit`.
    /// `owner`: only that merchant's items.
    pub fn list(
        &self,
        owner: Option<&str>,
        state: Option<crate::PayoutState>,
        cursor: i64,
        limit: usize,
    ) -> Result<Vec<PayoutView>> {
        let rows = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(&format!(
                "{VIEW} WHERE p.seq > ?1 AND (?2 IS NULL OR p.state = ?2) AND (?4 IS NULL OR p.owner = ?4) ORDER BY p.seq LIMIT ?3"
            ))?;
            stmt.query_map(
                params![
                    cursor,
                    state,
                    i64::try_from(limit).unwrap_or(i64::MAX),
                    owner
                ],
                view_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        rows.into_iter().map(|r| self.view(r)).collect()
    }

    /// Cancels an item that is not yet in a batch. `Ok(false)`: too late.
    pub fn cancel(&self, id: &str) -> Result<Option<bool>> {
        let conn = self.store.conn();
        let n = conn.execute(
            &format!("UPDATE payout SET state = {PAYOUT_CANCELLED}, reason = 'cancelled by the merchant', updated_ms = ?1
             WHERE id = ?2 AND state IN ({PAYOUT_QUEUED}, {PAYOUT_ROUTED}, {PAYOUT_HELD}) AND batch_id IS NULL"),
            params![now_ms(), id],
        )?;
        if n == 1 {
            return Ok(Some(true));
        }
        let exists: Option<String> = conn
            .query_row("SELECT state FROM payout WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(exists.map(|_| false))
    }

    /// Item counts by state.
    pub fn counts(&self) -> Result<StateCounts> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM payout GROUP BY state")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn move_batch_items(&self, batch: &str, from: PayoutState, to: PayoutState) -> Result<()> {
        self.store.conn().execute(
            "UPDATE payout SET state = ?1, reason = NULL, updated_ms = ?2 WHERE batch_id = ?3 AND state = ?4",
            params![to, now_ms(), batch, from],
        )?;
        Ok(())
    }

    /// One step: route queued and held items, flush due batches, submit
    /// written batches, follow submitted ones. A chain's failure holds that
    /// chain only (see [`Payouts::chain_errors`]); an error is returned
    /// only for what stops every chain (the store).
    pub async fn step(&self) -> Result<Vec<Shortfall>> {
        {
            let mut e = self.errors();
            e.this_step.clear();
            e.vm_this_step.clear();
        }
        let short = self.route().await?;
        self.flush()?;
        self.flush_vm().await?;
        self.submit_batches().await?;
        self.follow().await?;
        self.follow_vm().await?;
        let mut e = self.errors();
        let failed = std::mem::take(&mut e.this_step);
        e.last.retain(|c, _| failed.contains(c));
        let failed = std::mem::take(&mut e.vm_this_step);
        e.vm_last.retain(|c, _| failed.contains(c));
        Ok(short)
    }
}
