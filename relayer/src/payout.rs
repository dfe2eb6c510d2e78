//! Merchant payouts: durable intake, batching per (chain, token) into one
//! `PayoutBatcher.execute`, and per-item status through the lane.
//!
//! ```text
//! queued    stored with the request, before the answer
//! routed    its chain has a batcher, a lane and enough float
//! held      waiting (float too low, no executor): rechecked every step
//! batched   in a signed batch written to the store
//! submitted the batch's transaction is reserved on the lane
//! confirmed included, n confirmations (n from the lane's record)
//! final     at the chain's depth, and the receipt's `Paid` event for this
//!           item matches (index, recipient, amount)
//! failed    with a reason; cancelled: by the merchant before batching
//! ```
//!
//! The batch id and deadline are written with the batch, and ECDSA
//! signatures are deterministic (RFC 6979), so after a crash between
//! writing a batch and reserving its transaction the very same calldata is
//! reserved again. `PayoutBatcher` refuses a batch id twice: a batch can
//! never pay twice even if everything above failed.

use std::collections::HashMap;
use std::sync::Arc;

use alloy::primitives::{Address as EvmAddress, B256, U256, keccak256};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use switchyard_chains::evm::contracts::execute_call;
use switchyard_chains::evm::eip712::{
    Eip712Signer, Payout, PayoutBatch, domain, payout_batch_digest,
};
use switchyard_core::UsdE8;
use switchyard_core::finality::Finality;

use crate::error::{Error, Result};
use crate::lane::{Call, TxState};
use crate::store::Store;
use crate::transfer::LaneHandle;

/// One validated item of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPayout {
    /// `chain:ASSET`.
    pub asset: String,
    /// EVM chain id of the asset's chain.
    pub chain_id: u64,
    /// Token contract.
    pub token: EvmAddress,
    /// Recipient.
    pub recipient: EvmAddress,
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
    /// EVM chain id.
    pub chain_id: u64,
    /// Token.
    pub token: EvmAddress,
    /// `chain:ASSET` of the held items.
    pub asset: String,
    /// Missing, base units.
    pub amount: U256,
    /// Funding source of the oldest held item that names one.
    pub source: String,
    /// Its route mode.
    pub mode: String,
    /// The batcher to fund.
    pub batcher: EvmAddress,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// Base units, decimal.
    pub amount: String,
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

/// Outcome of a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

/// Why a chain takes no new payouts now (paused, breaker open), if so.
pub type ChainGate = Arc<dyn Fn(u64) -> Option<String> + Send + Sync>;

/// Intake, batching and status of payouts.
#[derive(Clone)]
pub struct Payouts {
    store: Arc<Store>,
    chains: HashMap<u64, PayoutChain>,
    signer: Eip712Signer,
    policy: BatchPolicy,
    hook: Option<BatchHook>,
    gate: Option<ChainGate>,
    governor: HashMap<u64, crate::governor::Limit>,
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

const VIEW: &str = "SELECT p.seq, p.id, p.request_key, p.idx, p.asset, p.recipient, p.amount, p.memo, p.state, p.reason, p.batch_id, p.created_ms, b.chain_id, p.owner FROM payout p LEFT JOIN payout_batch b ON b.id = p.batch_id";

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
    ))
}

impl Payouts {
    /// Payouts over `chains` (by EVM chain id), batches signed by `signer`.
    pub fn new(
        store: Arc<Store>,
        chains: HashMap<u64, PayoutChain>,
        signer: Eip712Signer,
        policy: BatchPolicy,
    ) -> Self {
        Self {
            store,
            chains,
            signer,
            policy,
            hook: None,
            gate: None,
            governor: HashMap::new(),
        }
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
        t.execute(
            "INSERT INTO payout_request (key, body_hash, items, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![key, body_hash.to_vec(), i64::try_from(items.len()).unwrap_or(i64::MAX), now],
        )?;
        {
            let mut stmt = t.prepare(
                "INSERT INTO payout (id, request_key, idx, asset, chain_id, token, recipient, amount, finality, memo, source, mode, owner, approvals, usd, state, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?13, ?14, ?15, ?16, 'queued', ?11, ?11)",
            )?;
            for (i, (p, id)) in items.iter().zip(&ids).enumerate() {
                stmt.execute(params![
                    id,
                    key,
                    i64::try_from(i).unwrap_or(i64::MAX),
                    p.asset,
                    i64::try_from(p.chain_id).unwrap_or(i64::MAX),
                    p.token.to_checksum(None),
                    p.recipient.to_checksum(None),
                    p.amount.to_string(),
                    serde_json::to_string(&p.finality)
                        .map_err(|e| Error::Corrupt(e.to_string()))?,
                    p.memo,
                    now,
                    p.source,
                    p.mode,
                    owner,
                    p.approvals,
                    p.usd.0.to_string()
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
        ) = r;
        let key = key
            .strip_prefix(&format!("{owner}/"))
            .map(str::to_owned)
            .unwrap_or(key);
        let mut v = PayoutView {
            id,
            idempotency_key: key,
            index: u32::try_from(idx).unwrap_or(u32::MAX),
            to: asset,
            recipient,
            amount,
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
        if let (Some(batch), Some(chain)) = (batch, chain)
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
        state: Option<&str>,
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
            "UPDATE payout SET state = 'cancelled', reason = 'cancelled by the merchant', updated_ms = ?1
             WHERE id = ?2 AND state IN ('queued', 'routed', 'held')",
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

    /// Adds `operator`'s approval to a payout waiting for approvals.
    /// Approvals come from distinct operators: a second one by the same
    /// operator changes nothing. Returns (approvals now, needed), or an
    /// error naming why it cannot be approved.
    pub fn approve(
        &self,
        id: &str,
        operator: &str,
    ) -> Result<std::result::Result<(usize, i64), String>> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let row: Option<(String, i64, String)> = t
            .query_row(
                "SELECT state, approvals, approved_by FROM payout WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((state, need, by)) = row else {
            return Ok(Err("unknown".into()));
        };
        let mut have: Vec<String> = serde_json::from_str(&by).unwrap_or_default();
        if !matches!(state.as_str(), "queued" | "held") || need == 0 {
            return Ok(Err(format!("needs no approval (state {state})")));
        }
        if !have.iter().any(|h| h == operator) {
            have.push(operator.to_owned());
        }
        t.execute(
            "UPDATE payout SET approved_by = ?1, updated_ms = ?2 WHERE id = ?3",
            params![
                serde_json::to_string(&have).map_err(|e| Error::Corrupt(e.to_string()))?,
                now_ms(),
                id
            ],
        )?;
        t.commit()?;
        Ok(Ok((have.len(), need)))
    }

    /// Rejects a payout that is not yet in a batch: it fails with the
    /// operator's reason. `Ok(false)`: too late or unknown.
    pub fn reject(&self, id: &str, operator: &str, reason: &str) -> Result<bool> {
        let n = self.store.conn().execute(
            "UPDATE payout SET state = 'failed', reason = ?1, updated_ms = ?2 WHERE id = ?3 AND state IN ('queued', 'routed', 'held')",
            params![format!("rejected by {operator}: {reason}"), now_ms(), id],
        )?;
        Ok(n == 1)
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

    fn set_items(
        &self,
        where_sql: &str,
        state: &str,
        reason: Option<&str>,
        arg: &str,
    ) -> Result<()> {
        self.store.conn().execute(
            &format!(
                "UPDATE payout SET state = ?1, reason = ?2, updated_ms = ?3 WHERE {where_sql}"
            ),
            params![state, reason, now_ms(), arg],
        )?;
        Ok(())
    }

    /// One step: route queued and held items, flush due batches, submit
    /// written batches, follow submitted ones.
    pub async fn step(&self) -> Result<Vec<Shortfall>> {
        let short = self.route().await?;
        self.flush()?;
        self.submit_batches()?;
        self.follow().await?;
        Ok(short)
    }

    /// queued/held -> routed or held: the chain has an executor and its
    /// batcher holds enough float for everything routed or batched there.
    /// Returns what each chain's float is short of.
    async fn route(&self) -> Result<Vec<Shortfall>> {
        type Pending = (
            String,
            i64,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            i64,
        );
        // Items still short of their approvals wait first.
        let awaiting: Vec<(String, i64, String)> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                "SELECT id, approvals, approved_by FROM payout WHERE state IN ('queued', 'held') AND approvals > json_array_length(approved_by) ORDER BY seq",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        if !awaiting.is_empty() {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                "UPDATE payout SET state = 'held', reason = ?1, updated_ms = ?2 WHERE id = ?3 AND (state != 'held' OR reason IS NOT ?1)",
            )?;
            for (id, need, by) in &awaiting {
                let have: Vec<String> = serde_json::from_str(by).unwrap_or_default();
                let why = format!(
                    "awaiting operator approval: {} of {need} distinct operators{}",
                    have.len(),
                    if have.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", have.join(", "))
                    }
                );
                stmt.execute(params![why, now_ms(), id])?;
            }
        }
        let pending: Vec<Pending> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                "SELECT id, chain_id, token, amount, asset, source, mode, usd, created_ms FROM payout WHERE state IN ('queued', 'held') AND approvals <= json_array_length(approved_by) ORDER BY seq",
            )?;
            stmt.query_map([], |r| {
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
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut short: Vec<Shortfall> = Vec::new();
        // Float left per (chain, token), read once per step.
        let mut left: HashMap<(i64, String), U256> = HashMap::new();
        let mut decisions: Vec<(String, &'static str, Option<String>)> = Vec::new();
        // Governor: flows in the window per chain, chains whose queue is
        // blocked by an earlier waiting item, and this step's admissions.
        let now_u = u64::try_from(now_ms()).unwrap_or_default();
        let mut flows: HashMap<i64, Vec<(u64, UsdE8)>> = HashMap::new();
        let mut blocked: HashMap<i64, String> = HashMap::new();
        let mut admitted: Vec<(String, i64, UsdE8)> = Vec::new();
        for (id, chain, token, amount, asset, source, mode, usd, created) in pending {
            let Some(pc) = u64::try_from(chain).ok().and_then(|c| self.chains.get(&c)) else {
                decisions.push((
                    id,
                    "held",
                    Some("no relayer lane or PayoutBatcher on this chain".into()),
                ));
                continue;
            };
            let amount =
                U256::from_str_radix(&amount, 10).map_err(|_| Error::Corrupt("amount".into()))?;
            if let Some(why) = self
                .gate
                .as_ref()
                .and_then(|g| g(u64::try_from(chain).unwrap_or_default()))
            {
                decisions.push((id, "held", Some(why)));
                continue;
            }
            let usd =
                UsdE8(U256::from_str_radix(&usd, 10).map_err(|_| Error::Corrupt("usd".into()))?);
            let limit = u64::try_from(chain)
                .ok()
                .and_then(|c| self.governor.get(&c));
            if let Some(limit) = limit {
                if let Some(first) = blocked.get(&chain) {
                    decisions.push((
                        id,
                        "held",
                        Some(format!("governor: queued behind {first} on this chain")),
                    ));
                    continue;
                }
                if usd.0.is_zero() {
                    // No price, no limit check: fail closed.
                    decisions.push((
                        id.clone(),
                        "held",
                        Some("governor: no USD price for this asset".into()),
                    ));
                    blocked.insert(chain, id);
                    continue;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = flows.entry(chain) {
                    e.insert(self.flows(chain, now_u.saturating_sub(limit.window_ms))?);
                }
                let f = flows.get(&chain).map(Vec::as_slice).unwrap_or_default();
                let seen = u64::try_from(created).unwrap_or_default();
                if let crate::governor::Decision::Wait { why, .. } =
                    crate::governor::decide(limit, f, now_u, usd, seen)
                {
                    decisions.push((id.clone(), "held", Some(format!("governor: {why}"))));
                    blocked.insert(chain, id);
                    continue;
                }
            }
            let key = (chain, token.clone());
            if !left.contains_key(&key) {
                let t: EvmAddress = token.parse().map_err(|_| Error::Corrupt("token".into()))?;
                let balance = pc.lane.chain.erc20_balance(t, pc.batcher).await?;
                let committed = self.committed(chain, &token)?;
                left.insert(key.clone(), balance.saturating_sub(committed));
            }
            let room = left
                .get_mut(&key)
                .ok_or_else(|| Error::Corrupt("float".into()))?;
            if *room >= amount {
                *room -= amount;
                if limit.is_some() {
                    flows.entry(chain).or_default().push((now_u, usd));
                    admitted.push((id.clone(), chain, usd));
                }
                decisions.push((id, "routed", None));
            } else {
                let t: EvmAddress = token.parse().map_err(|_| Error::Corrupt("token".into()))?;
                let chain_id = u64::try_from(chain).unwrap_or_default();
                let funding = self.open_funding(chain, &token)?;
                let why = match &funding {
                    Some(tr) => format!(
                        "float of the PayoutBatcher on chain {chain_id} is short; funding transfer {tr} on its way"
                    ),
                    None => format!(
                        "float of the PayoutBatcher on chain {chain_id} too low: {room} left, {amount} needed"
                    ),
                };
                decisions.push((id, "held", Some(why)));
                match short
                    .iter_mut()
                    .find(|s| s.chain_id == chain_id && s.token == t)
                {
                    Some(s) => s.amount = s.amount.saturating_add(amount),
                    None => {
                        if let Some(src) = source {
                            short.push(Shortfall {
                                chain_id,
                                token: t,
                                asset,
                                amount: amount.saturating_sub(*room),
                                source: src,
                                mode,
                                batcher: pc.batcher,
                            });
                        }
                    }
                }
            }
        }
        if decisions.is_empty() {
            return Ok(short);
        }
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let now = now_ms();
        {
            // A cancel may have landed since the read: only queued/held move.
            let mut stmt = t.prepare(
                "UPDATE payout SET state = ?1, reason = ?2, updated_ms = ?3 WHERE id = ?4 AND state IN ('queued', 'held') AND (state != ?1 OR reason IS NOT ?2)",
            )?;
            for (id, state, reason) in &decisions {
                stmt.execute(params![state, reason, now, id])?;
            }
            let mut flow = t.prepare(
                "INSERT OR IGNORE INTO governor_flow (payout_id, chain_id, usd, at_ms) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (id, chain, usd) in &admitted {
                flow.execute(params![id, chain, usd.0.to_string(), now])?;
            }
        }
        t.commit()?;
        Ok(short)
    }

    /// Flow admitted on `chain` since `since_ms`.
    fn flows(&self, chain: i64, since_ms: u64) -> Result<Vec<(u64, UsdE8)>> {
        let conn = self.store.conn();
        let mut stmt = conn
            .prepare("SELECT at_ms, usd FROM governor_flow WHERE chain_id = ?1 AND at_ms > ?2")?;
        let rows = stmt
            .query_map(
                params![chain, i64::try_from(since_ms).unwrap_or(i64::MAX)],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(at, usd)| {
                Ok((
                    u64::try_from(at).unwrap_or_default(),
                    UsdE8(
                        U256::from_str_radix(&usd, 10).map_err(|_| Error::Corrupt("usd".into()))?,
                    ),
                ))
            })
            .collect()
    }

    /// What the governor would decide now for a payout of `usd` on
    /// `chain_id` (`None`: the chain has no limit).
    pub fn governor_check(
        &self,
        chain_id: u64,
        usd: UsdE8,
    ) -> Result<Option<crate::governor::Decision>> {
        let Some(limit) = self.governor.get(&chain_id) else {
            return Ok(None);
        };
        let now = u64::try_from(now_ms()).unwrap_or_default();
        let f = self.flows(
            i64::try_from(chain_id).unwrap_or(i64::MAX),
            now.saturating_sub(limit.window_ms),
        )?;
        Ok(Some(crate::governor::decide(limit, &f, now, usd, now)))
    }

    /// USD admitted on each governed chain within its window, and its limit.
    pub fn governor_status(&self) -> Result<Vec<(u64, crate::governor::Limit, U256)>> {
        let now = u64::try_from(now_ms()).unwrap_or_default();
        let mut out = Vec::new();
        for (chain, limit) in &self.governor {
            let f = self.flows(
                i64::try_from(*chain).unwrap_or(i64::MAX),
                now.saturating_sub(limit.window_ms),
            )?;
            out.push((*chain, *limit, crate::governor::used(limit, &f, now)));
        }
        out.sort_by_key(|(c, _, _)| *c);
        Ok(out)
    }

    /// The funding transfer on its way to a chain's float, if any.
    pub fn open_funding(&self, chain: i64, token: &str) -> Result<Option<String>> {
        Ok(self
            .store
            .conn()
            .query_row(
                "SELECT transfer_id FROM funding WHERE chain_id = ?1 AND token = ?2 AND state = 'pending' ORDER BY created_ms LIMIT 1",
                params![chain, token],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Funding transfers ever started for a chain's float (names the next).
    pub fn funding_count(&self, chain_id: u64, token: EvmAddress) -> Result<i64> {
        Ok(self.store.conn().query_row(
            "SELECT COUNT(*) FROM funding WHERE chain_id = ?1 AND token = ?2",
            params![
                i64::try_from(chain_id).unwrap_or(i64::MAX),
                token.to_checksum(None)
            ],
            |r| r.get(0),
        )?)
    }

    /// Records a funding transfer for a chain's float.
    pub fn record_funding(
        &self,
        transfer_id: &str,
        chain_id: u64,
        token: EvmAddress,
        amount: U256,
    ) -> Result<()> {
        self.store.conn().execute(
            "INSERT OR IGNORE INTO funding (transfer_id, chain_id, token, amount, state, created_ms) VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
            params![
                transfer_id,
                i64::try_from(chain_id).unwrap_or(i64::MAX),
                token.to_checksum(None),
                amount.to_string(),
                now_ms()
            ],
        )?;
        Ok(())
    }

    /// Pending funding transfers.
    pub fn pending_funding(&self) -> Result<Vec<String>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare("SELECT transfer_id FROM funding WHERE state = 'pending'")?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Closes a funding transfer (`done` or `failed`).
    pub fn finish_funding(&self, transfer_id: &str, state: &str) -> Result<()> {
        self.store.conn().execute(
            "UPDATE funding SET state = ?1 WHERE transfer_id = ?2",
            params![state, transfer_id],
        )?;
        Ok(())
    }

    /// Sum of items routed, batched or submitted-but-not-final on a chain.
    fn committed(&self, chain: i64, token: &str) -> Result<U256> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT amount FROM payout WHERE chain_id = ?1 AND token = ?2 AND state IN ('routed', 'batched', 'submitted', 'confirmed')",
        )?;
        let mut sum = U256::ZERO;
        for a in stmt.query_map(params![chain, token], |r| r.get::<_, String>(0))? {
            let a = U256::from_str_radix(&a?, 10).map_err(|_| Error::Corrupt("amount".into()))?;
            sum = sum.saturating_add(a);
        }
        Ok(sum)
    }

    /// routed items -> batches, per (chain, token), when full or old enough.
    fn flush(&self) -> Result<()> {
        let groups: Vec<(i64, String, i64, i64)> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                "SELECT chain_id, token, COUNT(*), MIN(updated_ms) FROM payout WHERE state = 'routed' GROUP BY chain_id, token",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let now = now_ms();
        for (chain, token, count, oldest) in groups {
            let full = usize::try_from(count).unwrap_or(usize::MAX) >= self.policy.max_items;
            let old = now.saturating_sub(oldest)
                >= i64::try_from(self.policy.max_age_ms).unwrap_or(i64::MAX);
            if !(full || old) {
                continue;
            }
            let mut remaining = count;
            while remaining > 0 {
                let take = remaining.min(i64::try_from(self.policy.max_items).unwrap_or(i64::MAX));
                self.write_batch(chain, &token, take)?;
                remaining -= take;
            }
        }
        Ok(())
    }

    /// Writes one batch of up to `take` routed items (one SQLite
    /// transaction): batch row with id and deadline, items -> batched.
    fn write_batch(&self, chain: i64, token: &str, take: i64) -> Result<()> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let ids: Vec<String> = {
            let mut stmt = t.prepare(
                "SELECT id FROM payout WHERE state = 'routed' AND chain_id = ?1 AND token = ?2 ORDER BY seq LIMIT ?3",
            )?;
            stmt.query_map(params![chain, token, take], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        if ids.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let batch =
            keccak256(format!("switchyard/batch/{chain}/{}/{now}", ids.join(","))).to_string();
        let deadline = switchyard_core::now_ms() / 1000 + self.policy.ttl_s;
        t.execute(
            "INSERT INTO payout_batch (id, chain_id, token, deadline, state, items, created_ms) VALUES (?1, ?2, ?3, ?4, 'written', ?5, ?6)",
            params![batch, chain, token, i64::try_from(deadline).unwrap_or(i64::MAX), i64::try_from(ids.len()).unwrap_or(i64::MAX), now],
        )?;
        for (pos, id) in ids.iter().enumerate() {
            t.execute(
                "UPDATE payout SET state = 'batched', batch_id = ?1, batch_pos = ?2, updated_ms = ?3 WHERE id = ?4",
                params![batch, i64::try_from(pos).unwrap_or(i64::MAX), now, id],
            )?;
        }
        t.commit()?;
        tracing::info!(batch = %batch, chain, items = ids.len(), "payout batch written");
        self.at("written", &batch);
        Ok(())
    }

    /// Written batches -> signed and reserved on their lane.
    fn submit_batches(&self) -> Result<()> {
        let written: Vec<(String, i64, String, i64)> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                "SELECT id, chain_id, token, deadline FROM payout_batch WHERE state = 'written' ORDER BY created_ms",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        for (batch, chain, token, deadline) in written {
            let chain_id = u64::try_from(chain).map_err(|_| Error::Corrupt("chain".into()))?;
            let pc = self
                .chains
                .get(&chain_id)
                .ok_or_else(|| Error::Config(format!("no payout lane on chain id {chain_id}")))?;
            let items: Vec<(String, String, String)> = {
                let conn = self.store.conn();
                let mut stmt = conn.prepare(
                    "SELECT recipient, amount, finality FROM payout WHERE batch_id = ?1 ORDER BY batch_pos",
                )?;
                stmt.query_map(params![batch], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut payouts = Vec::with_capacity(items.len());
            let mut finality = Finality::Blocks { blocks: 1 };
            for (to, amount, f) in &items {
                payouts.push(Payout {
                    to: to.parse().map_err(|_| Error::Corrupt("recipient".into()))?,
                    amount: U256::from_str_radix(amount, 10)
                        .map_err(|_| Error::Corrupt("amount".into()))?,
                });
                let f: Finality =
                    serde_json::from_str(f).map_err(|e| Error::Corrupt(e.to_string()))?;
                finality = stricter(finality, f);
            }
            let id: B256 = batch
                .parse()
                .map_err(|_| Error::Corrupt("batch id".into()))?;
            let pb = PayoutBatch {
                batchId: id,
                token: token.parse().map_err(|_| Error::Corrupt("token".into()))?,
                payouts,
                deadline: u64::try_from(deadline).unwrap_or(0),
            };
            self.signer
                .check_chain("SWITCHYARD_SIGNER_KEY", chain_id)
                .map_err(|e| Error::Config(e.to_string()))?;
            let digest = payout_batch_digest(&pb, &domain(chain_id, pc.batcher));
            let sig = self
                .signer
                .sign_digest(&digest)
                .map_err(|e| Error::Config(e.to_string()))?;
            let data = execute_call(&pb, vec![self.signer.address()], vec![sig.to_vec()]);
            pc.lane.lane.reserve(
                &batch_intent(&batch),
                &Call {
                    to: pc.batcher,
                    data,
                    value: U256::ZERO,
                    gas_limit: None,
                },
                finality,
            )?;
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            t.execute(
                "UPDATE payout_batch SET state = 'submitted' WHERE id = ?1",
                params![batch],
            )?;
            t.execute(
                "UPDATE payout SET state = 'submitted', updated_ms = ?1 WHERE batch_id = ?2 AND state = 'batched'",
                params![now_ms(), batch],
            )?;
            t.commit()?;
            self.at("submitted", &batch);
        }
        Ok(())
    }

    /// Submitted batches: confirmations, finality, per-item check of the
    /// `Paid` events.
    async fn follow(&self) -> Result<()> {
        let open: Vec<(String, i64)> = {
            let conn = self.store.conn();
            let mut stmt =
                conn.prepare("SELECT id, chain_id FROM payout_batch WHERE state = 'submitted'")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        for (batch, chain) in open {
            let chain_id = u64::try_from(chain).map_err(|_| Error::Corrupt("chain".into()))?;
            let Some(pc) = self.chains.get(&chain_id) else {
                continue;
            };
            let Some(rec) = pc.lane.lane.get(&batch_intent(&batch))? else {
                continue;
            };
            match rec.state {
                TxState::Included => {
                    self.set_items(
                        "batch_id = ?4 AND state = 'submitted'",
                        "confirmed",
                        None,
                        &batch,
                    )?;
                }
                TxState::Final if rec.succeeded() => {
                    self.settle(pc, &batch, rec.hash).await?;
                }
                TxState::Final => {
                    let id: B256 = batch
                        .parse()
                        .map_err(|_| Error::Corrupt("batch id".into()))?;
                    // A cancelled call whose batch the contract already
                    // executed was paid by an earlier transaction.
                    if pc.lane.chain.executed(pc.batcher, id).await? {
                        self.settle(pc, &batch, None).await?;
                        continue;
                    }
                    let why = rec
                        .cancelled
                        .clone()
                        .map(|w| format!("batch not sent: {w}"))
                        .unwrap_or_else(|| "batch transaction reverted".into());
                    self.finish_batch(&batch, "failed", Some(&why))?;
                }
                TxState::Sent | TxState::Signed => {
                    // A reorg can take an included batch back to sent.
                    self.set_items(
                        "batch_id = ?4 AND state = 'confirmed'",
                        "submitted",
                        None,
                        &batch,
                    )?;
                }
                TxState::Reserved => {}
            }
        }
        Ok(())
    }

    async fn settle(&self, pc: &PayoutChain, batch: &str, tx: Option<B256>) -> Result<()> {
        let Some(tx) = tx else {
            return self.finish_batch(batch, "final", None);
        };
        let paid = pc.lane.chain.paid_in(tx, pc.batcher).await?;
        let items: Vec<(String, i64, String, String)> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                "SELECT id, batch_pos, recipient, amount FROM payout WHERE batch_id = ?1 ORDER BY batch_pos",
            )?;
            stmt.query_map(params![batch], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let now = now_ms();
        for (id, pos, to, amount) in items {
            let ok = paid.iter().any(|e| {
                e.index == U256::from(u64::try_from(pos).unwrap_or(u64::MAX))
                    && e.to.to_checksum(None) == to
                    && e.amount.to_string() == amount
            });
            let (state, reason) = if ok {
                ("final", None)
            } else {
                (
                    "failed",
                    Some("no matching Paid event in the batch receipt"),
                )
            };
            t.execute(
                "UPDATE payout SET state = ?1, reason = ?2, updated_ms = ?3 WHERE id = ?4",
                params![state, reason, now, id],
            )?;
        }
        t.execute(
            "UPDATE payout_batch SET state = 'final' WHERE id = ?1",
            params![batch],
        )?;
        t.commit()?;
        Ok(())
    }

    fn finish_batch(&self, batch: &str, state: &str, reason: Option<&str>) -> Result<()> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        t.execute(
            "UPDATE payout SET state = ?1, reason = ?2, updated_ms = ?3 WHERE batch_id = ?4",
            params![state, reason, now_ms(), batch],
        )?;
        t.execute(
            "UPDATE payout_batch SET state = ?1 WHERE id = ?2",
            params![state, batch],
        )?;
        t.commit()?;
        Ok(())
    }
}

impl Payouts {
    /// Compares the `Paid` events of every batcher, up to the chain's final
    /// head, with the store, and records each difference once as an alert:
    /// a payment the store does not know (`unknown_payout`), one whose
    /// recipient or amount differs (`payout_mismatch`), or one the store
    /// does not count as paid (`paid_but_not_settled`). Returns how many
    /// new alerts it recorded.
    pub async fn reconcile(&self) -> Result<usize> {
        use switchyard_core::chain::ChainReader;
        let mut new = 0;
        for (chain_id, pc) in &self.chains {
            let chain = i64::try_from(*chain_id).map_err(|_| Error::Corrupt("chain".into()))?;
            let final_head = pc.lane.chain.finalized_head().await?.number;
            let from: i64 = self
                .store
                .conn()
                .query_row(
                    "SELECT next_block FROM reconcile_cursor WHERE chain_id = ?1",
                    params![chain],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            let from = u64::try_from(from).unwrap_or(0);
            if from > final_head {
                continue;
            }
            // At most 5,000 blocks per call, so one call stays small.
            let to = final_head.min(from.saturating_add(4_999));
            let events = pc.lane.chain.paid_between(pc.batcher, from, to).await?;
            let mut alerts = Vec::new();
            for (e, tx) in events {
                let batch = e.batch_id.to_string();
                let pos =
                    i64::try_from(u64::try_from(e.index).unwrap_or(u64::MAX)).unwrap_or(i64::MAX);
                let known: Option<(String, String, String, String)> = self
                    .store
                    .conn()
                    .query_row(
                        "SELECT id, recipient, amount, state FROM payout WHERE batch_id = ?1 AND batch_pos = ?2",
                        params![batch, pos],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()?;
                let tx = tx.map(|h| h.to_string()).unwrap_or_default();
                match known {
                    None => alerts.push((
                        "unknown_payout",
                        format!(
                            "batch {batch} item {} paid {} to {} in {tx}: not in the store",
                            e.index, e.amount, e.to
                        ),
                    )),
                    Some((id, to, amount, _))
                        if to != e.to.to_checksum(None) || amount != e.amount.to_string() =>
                    {
                        alerts.push((
                            "payout_mismatch",
                            format!(
                                "{id}: chain paid {} to {}, store says {amount} to {to} ({tx})",
                                e.amount, e.to
                            ),
                        ));
                    }
                    Some((id, _, _, state))
                        if !matches!(state.as_str(), "submitted" | "confirmed" | "final") =>
                    {
                        alerts.push((
                            "paid_but_not_settled",
                            format!("{id}: paid on chain in {tx} while the store says {state}"),
                        ));
                    }
                    Some(_) => {}
                }
            }
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            for (kind, detail) in &alerts {
                let n = t.execute(
                    "INSERT OR IGNORE INTO alert (kind, chain_id, detail, created_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![kind, chain, detail, now_ms()],
                )?;
                if n == 1 {
                    tracing::error!(
                        kind,
                        chain_id,
                        detail,
                        "reconciliation: store and chain differ"
                    );
                    new += 1;
                }
            }
            t.execute(
                "INSERT INTO reconcile_cursor (chain_id, next_block) VALUES (?1, ?2)
                 ON CONFLICT (chain_id) DO UPDATE SET next_block = excluded.next_block",
                params![
                    chain,
                    i64::try_from(to.saturating_add(1)).unwrap_or(i64::MAX)
                ],
            )?;
            t.commit()?;
        }
        Ok(new)
    }
}

/// The stricter of two finality rules (more blocks; a tag beats blocks).
fn stricter(a: Finality, b: Finality) -> Finality {
    match (a, b) {
        (Finality::Blocks { blocks: x }, Finality::Blocks { blocks: y }) => {
            Finality::Blocks { blocks: x.max(y) }
        }
        (Finality::Blocks { .. }, other) => other,
        (other, _) => other,
    }
}
