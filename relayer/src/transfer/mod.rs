//! Transfers: a routed path of escrow legs executed hop by hop, durably.
//!
//! ```text
//! hop: pending    -> approve (once per token and escrow, unlimited) and
//!                    `deposit` reserved on the source lane
//!      depositing -> the deposit is final at the source chain's depth for
//!                    the amount: its deposit id is read from the receipt
//!      deposited  -> the destination escrow holds enough to pay: a signed
//!                    `release` reserved on the destination lane (while it
//!                    is short, the hop waits, with an alert after
//!                    `release_alert_ms`)
//!      releasing  -> the release is final: the hop is done and the next
//!                    hop deposits what arrived. A release that was not
//!                    sent or reverted goes back to `deposited` and is
//!                    signed again: the escrow pays a deposit at most once,
//!                    so releases can be retried without risk
//!      refunding  -> an operator (or `refund_after_ms`) gave up: a signed
//!                    `cancelRelease` marks the deposit used on the
//!                    destination; once that is final, a signed `refund`
//!                    returns the deposit to the depositor on the source
//!      refunded   -> the refund is final; the transfer fails
//!      failed     -> the deposit was never made (its call reverted)
//! ```
//!
//! A hop is failed only when it can never execute: its deposit was not
//! sent (the call reverts, so the lane filled its nonce with a no-op), or
//! its deposit was refunded after its release was cancelled on chain. A
//! node that cannot answer is retried, never taken for a revert.
//!
//! Every transaction is a lane intent named after the transfer and hop, so
//! a restart at any point finds what was already reserved, signed or sent
//! instead of making it again. The hop's state is written after the intent
//! it depends on is durable; a crash between the two replays an idempotent
//! reservation. Changes to a hop and its transfer are one SQLite
//! transaction. The escrow's once-per-deposit guard stands behind this.

use crate::states::sql::{
    HOP_DEPOSITED, HOP_DEPOSITING, HOP_PENDING, HOP_RELEASING, TRANSFER_AWAITING_APPROVAL,
    TRANSFER_PENDING,
};
use std::collections::HashMap;
use std::sync::Arc;

use alloy::primitives::{Address as EvmAddress, B256, U256, keccak256};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use switchyard_bridges::escrow::{self, ReleaseOrder};
use switchyard_chains::evm::EvmChain;
use switchyard_chains::evm::contracts::approve_call;
use switchyard_core::attest::Attester;
use switchyard_core::chain::ChainReader;
use switchyard_core::finality::Finality;

use crate::error::{Error, Result};
use crate::lane::{Call, Lane, TxRecord};
use crate::states::{HopState, TransferState};
use crate::store::Store;

mod intake;
mod legs;
mod vault;

/// One end of a hop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HopEnd {
    /// EVM chain id.
    pub chain_id: u64,
    /// Escrow contract there.
    #[schemars(with = "String")]
    pub escrow: EvmAddress,
    /// Token there.
    #[schemars(with = "String")]
    pub token: EvmAddress,
    /// Finality rule for this transfer's amount there.
    pub finality: Finality,
    /// A bridge vault on a chain without EVM (Solana): then `chain_id` is
    /// the chain's bridge domain and `escrow` and `token` are zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm: Option<VmEnd>,
}

/// The end of a hop at a bridge vault on a chain without EVM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VmEnd {
    /// The chain's topology name.
    pub chain: String,
    /// The vault (its token account).
    pub vault: String,
    /// The token (Solana: the mint).
    pub token: String,
}

/// One leg of a transfer as planned from the route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HopPlan {
    /// Bridge id from the topology.
    pub bridge: String,
    /// Source side.
    pub from: HopEnd,
    /// Destination side.
    pub to: HopEnd,
    /// Deposited, source base units (decimal string in JSON).
    #[serde(with = "decimal")]
    #[schemars(with = "String")]
    pub amount_in: U256,
    /// Released, destination base units, after the bridge fee (decimal
    /// string in JSON).
    #[serde(with = "decimal")]
    #[schemars(with = "String")]
    pub amount_out: U256,
    /// Paid on the destination chain: the relayer itself on intermediate
    /// chains, the user on the last. Toward a vault chain, this field is
    /// what the source escrow records (derived from `vm_recipient`), and
    /// `vm_recipient` is paid.
    #[schemars(with = "String")]
    pub recipient: EvmAddress,
    /// The wallet paid on a vault chain, as that chain prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_recipient: Option<String>,
}

/// Base-unit amounts as decimal strings: exact, and readable by clients
/// whose JSON numbers are doubles.
mod decimal {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        let s = String::deserialize(d)?;
        U256::from_str_radix(&s, 10).map_err(serde::de::Error::custom)
    }
}

/// A hop as it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HopView {
    /// The plan.
    #[serde(flatten)]
    pub plan: HopPlan,
    /// `pending`, `depositing`, `deposited`, `releasing`, `done`,
    /// `refunding`, `refunded` or `failed`.
    pub state: String,
    /// What it waits for, when it waits (liquidity, a refund's delay).
    pub note: Option<String>,
    /// Deposit id once final.
    #[schemars(with = "Option<String>")]
    pub deposit_id: Option<B256>,
    /// Deposit transaction (latest attempt).
    #[schemars(with = "Option<String>")]
    pub deposit_tx: Option<B256>,
    /// Release transaction (latest attempt).
    #[schemars(with = "Option<String>")]
    pub release_tx: Option<B256>,
    /// Deposit transaction on a vault chain, as its explorers write it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_deposit_tx: Option<String>,
    /// Release transaction on a vault chain, as its explorers write it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_release_tx: Option<String>,
}

/// A transfer as it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TransferView {
    /// `tr_` + 16 hex digits, derived from the idempotency key.
    pub id: String,
    /// The client's idempotency key.
    pub idempotency_key: String,
    /// `pending`, `done` or `failed`.
    pub state: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Legs in order.
    pub hops: Vec<HopView>,
    /// Creation time, unix ms.
    pub created_ms: i64,
}

/// A lane and its chain.
#[derive(Clone, Debug)]
pub struct LaneHandle {
    /// The lane.
    pub lane: Lane,
    /// Its chain, signing with the lane's key.
    pub chain: EvmChain,
}

/// A bridge vault on a chain without EVM, and the lane of the relayer's
/// key there that carries its deposits and releases.
#[derive(Clone)]
pub struct VaultHandle {
    /// The lane (shared with the chain's payouts).
    pub lane: crate::vmlane::GenericLane,
    /// The chain's vault adapter.
    pub vault: Arc<dyn switchyard_core::chain::vm::VmVault>,
}

/// Told each hop's outcome: (bridge id, succeeded, what failed).
pub type HopOutcome = Arc<dyn Fn(&str, bool, &str) + Send + Sync>;

/// Called with a point name right after that change is committed; the
/// daemon uses it for crash drills (`hop-failed`, `hop-refunding`).
pub type Drill = Arc<dyn Fn(&str) + Send + Sync>;

/// How long releases wait and when deposits are refunded on their own.
#[derive(Clone, Copy, Debug)]
pub struct ReleasePolicy {
    /// Validity of a signed release, seconds.
    pub ttl_s: u64,
    /// A release waiting this long raises an alert.
    pub alert_ms: u64,
    /// A release waiting this long is given up and the deposit refunded
    /// (0: only on an operator's request).
    pub refund_after_ms: u64,
}

/// Executes transfers over the lanes of one relayer key.
#[derive(Clone)]
pub struct Transfers {
    store: Arc<Store>,
    lanes: HashMap<u64, LaneHandle>,
    attester: Arc<dyn Attester>,
    release: ReleasePolicy,
    outcomes: Option<HopOutcome>,
    drill: Option<Drill>,
    treasuries: HashMap<u64, EvmAddress>,
    vaults: HashMap<u64, VaultHandle>,
}

impl std::fmt::Debug for Transfers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfers")
            .field("lanes", &self.lanes.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    i64::try_from(switchyard_core::now_ms()).unwrap_or(i64::MAX)
}

/// The transfer id for an idempotency key.
pub fn transfer_id(key: &str) -> String {
    let h = keccak256(format!("switchyard/transfer/{key}"));
    format!("tr_{}", alloy::primitives::hex::encode(&h[..8]))
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Corrupt(e.to_string()))
}

impl Transfers {
    /// Transfers over `lanes` (by EVM chain id), with releases signed by
    /// the escrows' signer set behind `attester`, valid for `release_ttl_s`.
    pub fn new(
        store: Arc<Store>,
        lanes: HashMap<u64, LaneHandle>,
        attester: Arc<dyn Attester>,
        release_ttl_s: u64,
    ) -> Self {
        Self {
            store,
            lanes,
            attester,
            release: ReleasePolicy {
                ttl_s: release_ttl_s,
                alert_ms: 600_000,
                refund_after_ms: 0,
            },
            outcomes: None,
            drill: None,
            treasuries: HashMap::new(),
            vaults: HashMap::new(),
        }
    }

    /// Installs the bridge vaults of chains without EVM, by bridge domain.
    pub fn with_vaults(mut self, v: HashMap<u64, VaultHandle>) -> Self {
        self.vaults = v;
        self
    }

    /// The vault of bridge domain `domain`, if there is one.
    pub fn vault_on(&self, domain: u64) -> Option<&VaultHandle> {
        self.vaults.get(&domain)
    }

    fn vault(&self, domain: u64) -> Result<&VaultHandle> {
        self.vaults
            .get(&domain)
            .ok_or_else(|| Error::Config(format!("no bridge vault on domain {domain}")))
    }

    /// Installs the `Treasury` contract per EVM chain id: there the
    /// relayer's funds sit, and deposits leave it on the signer set's
    /// signatures; intermediate hops are released to it.
    pub fn with_treasuries(mut self, t: HashMap<u64, EvmAddress>) -> Self {
        self.treasuries = t;
        self
    }

    /// The treasury on `chain_id`, if there is one.
    pub fn treasury_on(&self, chain_id: u64) -> Option<EvmAddress> {
        self.treasuries.get(&chain_id).copied()
    }

    /// Where the relayer's funds are on `chain_id`: its treasury, or else
    /// the lane key itself (development without a treasury).
    pub fn funds_on(&self, chain_id: u64) -> Option<EvmAddress> {
        self.relayer_on(chain_id)
            .map(|r| self.treasury_on(chain_id).unwrap_or(r))
    }

    /// Sets how releases wait and when deposits are refunded on their own.
    pub fn with_release_policy(mut self, p: ReleasePolicy) -> Self {
        self.release = p;
        self
    }

    /// Installs the crash-drill hook.
    pub fn with_drill(mut self, d: Drill) -> Self {
        self.drill = Some(d);
        self
    }

    fn at(&self, point: &str) {
        if let Some(d) = &self.drill {
            d(point);
        }
    }

    /// Installs the listener of hop outcomes (the bridge breakers).
    pub fn with_outcomes(mut self, f: HopOutcome) -> Self {
        self.outcomes = Some(f);
        self
    }

    /// Every lane, by EVM chain id.
    pub fn lanes(&self) -> impl Iterator<Item = (&u64, &LaneHandle)> {
        self.lanes.iter()
    }

    /// The lane on `chain_id`, if there is one.
    pub fn lane_of(&self, chain_id: u64) -> Option<&Lane> {
        self.lanes.get(&chain_id).map(|l| &l.lane)
    }

    /// The relayer's address on `chain_id`, if it has a lane there.
    pub fn relayer_on(&self, chain_id: u64) -> Option<EvmAddress> {
        self.lanes.get(&chain_id).map(|l| l.lane.sender())
    }

    fn lane(&self, chain_id: u64) -> Result<&LaneHandle> {
        self.lanes
            .get(&chain_id)
            .ok_or_else(|| Error::Config(format!("no relayer lane on chain id {chain_id}")))
    }

    fn hops(&self, id: &str) -> Result<Vec<HopRow>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT plan, state, deposit_id, release_seq, since_ms, note, refund_reason, release_deadline FROM hop WHERE transfer_id = ?1 ORDER BY idx",
        )?;
        let rows = stmt.query_map(params![id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<Vec<u8>>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<i64>>(7)?,
            ))
        })?;
        rows.map(|r| {
            let (plan, state, dep, seq, since, note, refund, deadline) = r?;
            let plan: HopPlan =
                serde_json::from_str(&plan).map_err(|e| Error::Corrupt(e.to_string()))?;
            let deposit = dep
                .map(|d| {
                    B256::try_from(d.as_slice()).map_err(|_| Error::Corrupt("deposit id".into()))
                })
                .transpose()?;
            Ok(HopRow {
                plan,
                state,
                deposit,
                release_seq: u32::try_from(seq).unwrap_or(0),
                since_ms: since,
                note,
                refund_reason: refund,
                release_deadline: deadline.and_then(|d| u64::try_from(d).ok()),
            })
        })
        .collect()
    }

    /// Moves hop `idx` from state `from` to `state` (recording its deposit
    /// id when given). `Ok(false)`: it was not in `from` any more (an
    /// operator's refund landed meanwhile): nothing changed. The waiting
    /// clock (`since_ms`) runs across release retries and stops when the
    /// hop is done or given up. Moving to `depositing` starts the hop's
    /// latency clock; moving to `done` records its bridge's observation in
    /// the same transaction.
    fn set_hop(
        &self,
        id: &str,
        idx: usize,
        from: HopState,
        state: HopState,
        deposit: Option<B256>,
    ) -> Result<bool> {
        let now = now_ms();
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let n = t.execute(
            &format!("UPDATE hop SET state = ?1, deposit_id = COALESCE(?2, deposit_id), note = NULL,
                since_ms = CASE WHEN ?1 IN ({HOP_DEPOSITED}, {HOP_RELEASING}) THEN since_ms ELSE NULL END,
                started_ms = CASE WHEN ?1 = {HOP_DEPOSITING} THEN COALESCE(started_ms, ?6) ELSE started_ms END
             WHERE transfer_id = ?3 AND idx = ?4 AND state = ?5"),
            params![
                state,
                deposit.map(|d| d.to_vec()),
                id,
                i64::try_from(idx).unwrap_or(i64::MAX),
                from,
                now
            ],
        )?;
        if n == 1 && state == HopState::Done {
            let plan = self.plan_of(&t, id, idx)?;
            crate::observe::record(&t, id, idx, &plan, true, now)?;
        }
        t.commit()?;
        Ok(n == 1)
    }

    /// The stored plan of hop `idx`.
    fn plan_of(&self, conn: &rusqlite::Connection, id: &str, idx: usize) -> Result<HopPlan> {
        let text: String = conn.query_row(
            "SELECT plan FROM hop WHERE transfer_id = ?1 AND idx = ?2",
            params![id, i64::try_from(idx).unwrap_or(i64::MAX)],
            |r| r.get(0),
        )?;
        serde_json::from_str(&text).map_err(|e| Error::Corrupt(format!("hop plan: {e}")))
    }

    /// Records what a waiting hop waits for (the first time: since when).
    fn note(&self, id: &str, idx: usize, note: &str) -> Result<i64> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        t.execute(
            "UPDATE hop SET note = ?1, since_ms = COALESCE(since_ms, ?2) WHERE transfer_id = ?3 AND idx = ?4",
            params![note, now_ms(), id, i64::try_from(idx).unwrap_or(i64::MAX)],
        )?;
        let since: i64 = t.query_row(
            "SELECT since_ms FROM hop WHERE transfer_id = ?1 AND idx = ?2",
            params![id, i64::try_from(idx).unwrap_or(i64::MAX)],
            |r| r.get(0),
        )?;
        t.commit()?;
        Ok(since)
    }

    /// Ends a hop and its transfer together, in one SQLite transaction,
    /// with the observation of its bridge.
    fn end(
        &self,
        id: &str,
        idx: usize,
        hop: HopState,
        transfer: TransferState,
        error: Option<&str>,
    ) -> Result<()> {
        let now = now_ms();
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        t.execute(
            "UPDATE hop SET state = ?1, note = NULL WHERE transfer_id = ?2 AND idx = ?3",
            params![hop, id, i64::try_from(idx).unwrap_or(i64::MAX)],
        )?;
        // A refund is the bridge failing to deliver a deposit; a hop that
        // failed before its deposit says nothing about the bridge.
        if hop == HopState::Refunded {
            let plan = self.plan_of(&t, id, idx)?;
            crate::observe::record(&t, id, idx, &plan, false, now)?;
        }
        t.execute(
            "UPDATE transfer SET state = ?1, error = ?2, updated_ms = ?3 WHERE id = ?4",
            params![transfer, error, now, id],
        )?;
        t.commit()?;
        Ok(())
    }

    fn finish(&self, id: &str, state: TransferState, error: Option<&str>) -> Result<()> {
        self.store.conn().execute(
            "UPDATE transfer SET state = ?1, error = ?2, updated_ms = ?3 WHERE id = ?4",
            params![state, error, now_ms(), id],
        )?;
        Ok(())
    }

    /// Ids of transfers still in progress.
    pub fn pending(&self) -> Result<Vec<String>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT id FROM transfer WHERE state = {TRANSFER_PENDING} ORDER BY created_ms"
        ))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Moves every pending transfer as far as it can go now.
    pub async fn advance_all(&self) -> Result<()> {
        for id in self.pending()? {
            if let Err(e) = self.advance(&id).await {
                tracing::warn!(transfer = %id, error = %e, retryable = e.is_retryable(), "transfer step failed; retrying later");
            }
        }
        Ok(())
    }

    /// Gives up on releasing transfer `id`'s deposit that is still locked
    /// in escrow: its release is cancelled on the destination, then the
    /// deposit is refunded on the source (see the module docs). Audited in
    /// the same SQLite transaction. `Ok(Err(why))`: nothing to refund.
    pub fn refund(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
    ) -> Result<std::result::Result<crate::AuditEntry, String>> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let state: Option<TransferState> = t
            .query_row(
                "SELECT state FROM transfer WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        match state {
            None => return Ok(Err("unknown".into())),
            Some(TransferState::Pending) => {}
            Some(s) => return Ok(Err(format!("the transfer is {s}"))),
        }
        {
            let mut stmt =
                t.prepare("SELECT plan FROM hop WHERE transfer_id = ?1 AND state IN (?2, ?3)")?;
            let plans = stmt
                .query_map(params![id, HopState::Deposited, HopState::Releasing], |r| {
                    r.get::<_, String>(0)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let vault_leg = plans.iter().any(|p| {
                serde_json::from_str::<HopPlan>(p)
                    .is_ok_and(|h| h.from.vm.is_some() || h.to.vm.is_some())
            });
            if vault_leg {
                return Ok(Err(
                    "its deposit waits on a bridge vault leg, which has no on-chain cancellation: it is released when the vault can pay".into(),
                ));
            }
        }
        let n = t.execute(
            "UPDATE hop SET state = ?1, refund_reason = ?2, note = NULL, since_ms = NULL
             WHERE transfer_id = ?3 AND state IN (?4, ?5)",
            params![
                HopState::Refunding,
                format!("{reason} (by {actor})"),
                id,
                HopState::Deposited,
                HopState::Releasing
            ],
        )?;
        if n == 0 {
            return Ok(Err(
                "no deposit of it waits in escrow (nothing deposited yet, or released)".into(),
            ));
        }
        let e = crate::ops::Ops::append(
            &t,
            actor,
            "transfer_refund",
            &format!("transfer:{id}"),
            reason,
        )?;
        t.commit()?;
        drop(conn);
        self.at("hop-refunding");
        Ok(Ok(e))
    }

    /// Moves one transfer as far as it can go now.
    pub async fn advance(&self, id: &str) -> Result<()> {
        for (i, h) in self.hops(id)?.into_iter().enumerate() {
            let plan = &h.plan;
            let state = HopState::parse(&h.state)
                .ok_or_else(|| Error::Corrupt(format!("unknown hop state {:?}", h.state)))?;
            let next = match state {
                HopState::Done => continue,
                HopState::Failed | HopState::Refunded => return Ok(()),
                HopState::Pending if plan.from.vm.is_some() => {
                    self.start_vault_deposit(id, i, plan).await?
                }
                HopState::Pending => self.start_deposit(id, i, plan).await?,
                HopState::Depositing if plan.from.vm.is_some() => {
                    self.await_vault_deposit(id, i, plan).await?
                }
                HopState::Depositing => self.await_deposit(id, i, plan).await?,
                HopState::Deposited => {
                    let dep = h
                        .deposit
                        .ok_or_else(|| Error::Corrupt("deposited hop without id".into()))?;
                    if plan.to.vm.is_some() {
                        self.start_vault_release(id, i, &h, dep).await?
                    } else {
                        self.start_release(id, i, &h, dep).await?
                    }
                }
                HopState::Releasing if plan.to.vm.is_some() => {
                    self.await_vault_release(id, i, &h).await?
                }
                HopState::Releasing => self.await_release(id, i, &h).await?,
                HopState::Refunding if plan.from.vm.is_some() || plan.to.vm.is_some() => {
                    self.note(
                        id,
                        i,
                        "held: a vault leg's deposit is refunded by an operator, not by Switchyard",
                    )?;
                    Step::Wait
                }
                HopState::Refunding => self.refunding(id, i, &h).await?,
            };
            match next {
                Step::Wait => return Ok(()),
                Step::Failed(why) => {
                    if let Some(f) = &self.outcomes {
                        f(&plan.bridge, false, &why);
                    }
                    self.end(id, i, HopState::Failed, TransferState::Failed, Some(&why))?;
                    self.at("hop-failed");
                    tracing::error!(transfer = %id, hop = i, reason = %why, "transfer failed");
                    return Ok(());
                }
                Step::Refunded(why) => {
                    if let Some(f) = &self.outcomes {
                        f(&plan.bridge, false, &why);
                    }
                    self.end(id, i, HopState::Refunded, TransferState::Failed, Some(&why))?;
                    tracing::warn!(transfer = %id, hop = i, reason = %why, "deposit refunded; transfer failed");
                    return Ok(());
                }
                Step::Done => {
                    if let Some(f) = &self.outcomes {
                        f(&plan.bridge, true, "");
                    }
                }
            }
        }
        self.finish(id, TransferState::Done, None)?;
        tracing::info!(transfer = %id, "transfer done");
        Ok(())
    }
}

/// A hop as stored.
#[derive(Clone)]
struct HopRow {
    plan: HopPlan,
    state: String,
    deposit: Option<B256>,
    release_seq: u32,
    since_ms: Option<i64>,
    note: Option<String>,
    refund_reason: Option<String>,
    /// Deadline of release `release_seq`, once chosen.
    release_deadline: Option<u64>,
}

enum Step {
    Wait,
    Done,
    Failed(String),
    Refunded(String),
}

fn failure(rec: &TxRecord) -> Option<String> {
    if !rec.failed() {
        return None;
    }
    Some(match &rec.cancelled {
        Some(why) => format!("not sent, simulation reverted: {why}"),
        None => match rec.hash {
            Some(h) => format!("reverted on chain in {h}"),
            None => "reverted on chain".to_owned(),
        },
    })
}

/// Approvals tried per (token, escrow) before a hop needing one fails.
const MAX_TRIES: u32 = 5;

/// How far back the event of a deposit's use is looked for, blocks.
const EVENT_SPAN: u64 = 200_000;

/// Whether the next of a numbered intent is due: there is none yet, or
/// the last one failed and has waited its pause (30 s, doubling, at most
/// an hour) since.
fn due(n: u32, last: Option<&TxRecord>) -> bool {
    match last {
        None => true,
        Some(r) if r.failed() => {
            let pause = 30_000i64.saturating_mul(1 << n.min(7)).min(3_600_000);
            now_ms().saturating_sub(r.updated_ms) >= pause
        }
        Some(_) => false,
    }
}

/// `kind`, then `kind#1`, `kind#2`, ...
fn numbered(kind: &str, n: u32) -> String {
    if n == 0 {
        kind.to_owned()
    } else {
        format!("{kind}#{n}")
    }
}

/// The latest of `kind`, `kind#1`, ... reserved for hop `hop` of transfer
/// `id` on `lane`: (how many there are, the last one).
fn latest(lane: &Lane, id: &str, hop: usize, kind: &str) -> Result<(u32, Option<TxRecord>)> {
    let mut n = 0;
    let mut last = None;
    while let Some(rec) = lane.get(&intent(id, hop, &numbered(kind, n)))? {
        last = Some(rec);
        n += 1;
    }
    Ok((n, last))
}

/// The intent kind of the `seq`-th release of a hop (the first keeps the
/// name earlier versions used).
fn release_kind(seq: u32) -> String {
    numbered("release", seq)
}

fn intent(id: &str, hop: usize, kind: &str) -> String {
    format!("transfer:{id}:{hop}:{kind}")
}
