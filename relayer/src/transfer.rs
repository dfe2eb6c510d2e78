//! Transfers: a routed path of escrow legs executed hop by hop, durably.
//!
//! ```text
//! hop: pending    -> approve (once per token and escrow, unlimited) and
//!                    `deposit` reserved on the source lane
//!      depositing -> the deposit is final at the source chain's depth for
//!                    the amount: its deposit id is read from the receipt
//!      deposited  -> a signed `release` reserved on the destination lane
//!      releasing  -> the release is final: the hop is done and the next
//!                    hop deposits what arrived
//! ```
//!
//! Every transaction is a lane intent named after the transfer and hop, so
//! a restart at any point finds what was already reserved, signed or sent
//! instead of making it again. The hop's state is written after the intent
//! it depends on is durable; a crash between the two replays an idempotent
//! reservation. The escrow's once-per-deposit guard stands behind this.

use std::collections::HashMap;
use std::sync::Arc;

use alloy::primitives::{Address as EvmAddress, B256, U256, keccak256};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use switchyard_bridges::escrow::{self, ReleaseOrder};
use switchyard_chains::evm::EvmChain;
use switchyard_chains::evm::contracts::approve_call;
use switchyard_chains::evm::eip712::Eip712Signer;
use switchyard_core::finality::Finality;

use crate::error::{Error, Result};
use crate::lane::{Call, Lane, TxRecord};
use crate::store::Store;

/// One end of a hop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopEnd {
    /// EVM chain id.
    pub chain_id: u64,
    /// Escrow contract there.
    pub escrow: EvmAddress,
    /// Token there.
    pub token: EvmAddress,
    /// Finality rule for this transfer's amount there.
    pub finality: Finality,
}

/// One leg of a transfer as planned from the route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopPlan {
    /// Bridge id from the topology.
    pub bridge: String,
    /// Source side.
    pub from: HopEnd,
    /// Destination side.
    pub to: HopEnd,
    /// Deposited, source base units (decimal string in JSON).
    #[serde(with = "decimal")]
    pub amount_in: U256,
    /// Released, destination base units, after the bridge fee (decimal
    /// string in JSON).
    #[serde(with = "decimal")]
    pub amount_out: U256,
    /// Paid on the destination chain: the relayer itself on intermediate
    /// chains, the user on the last.
    pub recipient: EvmAddress,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HopView {
    /// The plan.
    #[serde(flatten)]
    pub plan: HopPlan,
    /// `pending`, `depositing`, `deposited`, `releasing`, `done`, `failed`.
    pub state: String,
    /// Deposit id once final.
    pub deposit_id: Option<B256>,
    /// Deposit transaction (latest attempt).
    pub deposit_tx: Option<B256>,
    /// Release transaction (latest attempt).
    pub release_tx: Option<B256>,
}

/// A transfer as it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

/// Told each hop's outcome: (bridge id, succeeded, what failed).
pub type HopOutcome = Arc<dyn Fn(&str, bool, &str) + Send + Sync>;

/// Executes transfers over the lanes of one relayer key.
#[derive(Clone)]
pub struct Transfers {
    store: Arc<Store>,
    lanes: HashMap<u64, LaneHandle>,
    attesters: Vec<Eip712Signer>,
    release_ttl_s: u64,
    outcomes: Option<HopOutcome>,
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
    /// `attesters` (the escrow's signer set) valid for `release_ttl_s`.
    pub fn new(
        store: Arc<Store>,
        lanes: HashMap<u64, LaneHandle>,
        attesters: Vec<Eip712Signer>,
        release_ttl_s: u64,
    ) -> Self {
        Self {
            store,
            lanes,
            attesters,
            release_ttl_s,
            outcomes: None,
        }
    }

    /// Installs the listener of hop outcomes (the bridge breakers).
    pub fn with_outcomes(mut self, f: HopOutcome) -> Self {
        self.outcomes = Some(f);
        self
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

    /// Records a transfer. The same key with the same `request` returns the
    /// stored transfer (`false`: not new); with another request it is
    /// refused.
    pub fn submit(
        &self,
        key: &str,
        request: &serde_json::Value,
        hops: &[HopPlan],
    ) -> Result<(TransferView, bool)> {
        for h in hops {
            self.lane(h.from.chain_id)?;
            self.lane(h.to.chain_id)?;
        }
        let id = transfer_id(key);
        let request_text = json(request)?;
        let created = {
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            let existing: Option<String> = t
                .query_row(
                    "SELECT request FROM transfer WHERE idem_key = ?1",
                    params![key],
                    |r| r.get(0),
                )
                .optional()?;
            match existing {
                Some(prev) if prev == request_text => false,
                Some(_) => return Err(Error::IdempotencyConflict(key.to_owned())),
                None => {
                    let now = now_ms();
                    t.execute(
                        "INSERT INTO transfer (id, idem_key, request, state, created_ms, updated_ms) VALUES (?1, ?2, ?3, 'pending', ?4, ?4)",
                        params![id, key, request_text, now],
                    )?;
                    for (i, h) in hops.iter().enumerate() {
                        t.execute(
                            "INSERT INTO hop (transfer_id, idx, plan, state) VALUES (?1, ?2, ?3, 'pending')",
                            params![id, i64::try_from(i).unwrap_or(i64::MAX), json(h)?],
                        )?;
                    }
                    t.commit()?;
                    true
                }
            }
        };
        let view = self
            .get(&id)?
            .ok_or_else(|| Error::Corrupt("transfer vanished".into()))?;
        Ok((view, created))
    }

    /// A transfer by id.
    pub fn get(&self, id: &str) -> Result<Option<TransferView>> {
        let head = self
            .store
            .conn()
            .query_row(
                "SELECT idem_key, state, error, created_ms FROM transfer WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((key, state, error, created_ms)) = head else {
            return Ok(None);
        };
        let mut hops = Vec::new();
        for (i, (plan, state, deposit_id)) in self.hops(id)?.into_iter().enumerate() {
            let tx = |kind: &str, chain_id: u64| -> Result<Option<B256>> {
                Ok(match self.lanes.get(&chain_id) {
                    Some(l) => l.lane.get(&intent(id, i, kind))?.and_then(|r| r.hash),
                    None => None,
                })
            };
            hops.push(HopView {
                deposit_tx: tx("deposit", plan.from.chain_id)?,
                release_tx: tx("release", plan.to.chain_id)?,
                plan,
                state,
                deposit_id,
            });
        }
        Ok(Some(TransferView {
            id: id.to_owned(),
            idempotency_key: key,
            state,
            error,
            hops,
            created_ms,
        }))
    }

    fn hops(&self, id: &str) -> Result<Vec<(HopPlan, String, Option<B256>)>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT plan, state, deposit_id FROM hop WHERE transfer_id = ?1 ORDER BY idx",
        )?;
        let rows = stmt.query_map(params![id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<Vec<u8>>>(2)?,
            ))
        })?;
        rows.map(|r| {
            let (plan, state, dep) = r?;
            let plan: HopPlan =
                serde_json::from_str(&plan).map_err(|e| Error::Corrupt(e.to_string()))?;
            let dep = dep
                .map(|d| {
                    B256::try_from(d.as_slice()).map_err(|_| Error::Corrupt("deposit id".into()))
                })
                .transpose()?;
            Ok((plan, state, dep))
        })
        .collect()
    }

    fn set_hop(&self, id: &str, idx: usize, state: &str, deposit: Option<B256>) -> Result<()> {
        self.store.conn().execute(
            "UPDATE hop SET state = ?1, deposit_id = COALESCE(?2, deposit_id) WHERE transfer_id = ?3 AND idx = ?4",
            params![state, deposit.map(|d| d.to_vec()), id, i64::try_from(idx).unwrap_or(i64::MAX)],
        )?;
        Ok(())
    }

    fn finish(&self, id: &str, state: &str, error: Option<&str>) -> Result<()> {
        self.store.conn().execute(
            "UPDATE transfer SET state = ?1, error = ?2, updated_ms = ?3 WHERE id = ?4",
            params![state, error, now_ms(), id],
        )?;
        Ok(())
    }

    /// Ids of transfers still in progress.
    pub fn pending(&self) -> Result<Vec<String>> {
        let conn = self.store.conn();
        let mut stmt =
            conn.prepare("SELECT id FROM transfer WHERE state = 'pending' ORDER BY created_ms")?;
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

    /// Moves one transfer as far as it can go now.
    pub async fn advance(&self, id: &str) -> Result<()> {
        for (i, (plan, state, deposit)) in self.hops(id)?.into_iter().enumerate() {
            let next = match state.as_str() {
                "done" => continue,
                "failed" => return Ok(()),
                "pending" => self.start_deposit(id, i, &plan).await?,
                "depositing" => self.await_deposit(id, i, &plan).await?,
                "deposited" => {
                    let dep =
                        deposit.ok_or_else(|| Error::Corrupt("deposited hop without id".into()))?;
                    self.start_release(id, i, &plan, dep)?
                }
                "releasing" => self.await_release(id, i, &plan, deposit).await?,
                other => return Err(Error::Corrupt(format!("unknown hop state {other:?}"))),
            };
            match next {
                Step::Wait => return Ok(()),
                Step::Failed(why) => {
                    if let Some(f) = &self.outcomes {
                        f(&plan.bridge, false, &why);
                    }
                    self.set_hop(id, i, "failed", None)?;
                    self.finish(id, "failed", Some(&why))?;
                    tracing::error!(transfer = %id, hop = i, reason = %why, "transfer failed");
                    return Ok(());
                }
                Step::Done => {
                    if let Some(f) = &self.outcomes {
                        f(&plan.bridge, true, "");
                    }
                }
            }
        }
        self.finish(id, "done", None)?;
        tracing::info!(transfer = %id, "transfer done");
        Ok(())
    }

    async fn start_deposit(&self, id: &str, i: usize, plan: &HopPlan) -> Result<Step> {
        let src = self.lane(plan.from.chain_id)?;
        let me = src.lane.sender();
        let allowance = src
            .chain
            .allowance(plan.from.token, me, plan.from.escrow)
            .await?;
        if allowance < plan.amount_in {
            let approve = format!("approve:{}:{}", plan.from.token, plan.from.escrow);
            if src.lane.get(&approve)?.is_some_and(|r| r.succeeded()) {
                return Ok(Step::Failed(format!(
                    "allowance of {me} to escrow {} exhausted",
                    plan.from.escrow
                )));
            }
            src.lane.reserve(
                &approve,
                &Call {
                    to: plan.from.token,
                    data: approve_call(plan.from.escrow, U256::MAX),
                    value: U256::ZERO,
                    gas_limit: None,
                },
                plan.from.finality,
            )?;
        }
        src.lane.reserve(
            &intent(id, i, "deposit"),
            &Call {
                to: plan.from.escrow,
                data: escrow::deposit(
                    plan.from.token,
                    plan.amount_in,
                    plan.to.chain_id,
                    plan.recipient,
                ),
                value: U256::ZERO,
                gas_limit: None,
            },
            plan.from.finality,
        )?;
        self.set_hop(id, i, "depositing", None)?;
        Ok(Step::Wait)
    }

    async fn await_deposit(&self, id: &str, i: usize, plan: &HopPlan) -> Result<Step> {
        let src = self.lane(plan.from.chain_id)?;
        let Some(rec) = src.lane.get(&intent(id, i, "deposit"))? else {
            return Err(Error::Corrupt("depositing hop without its deposit".into()));
        };
        if let Some(why) = failure(&rec) {
            return Ok(Step::Failed(format!("deposit: {why}")));
        }
        if !rec.succeeded() {
            return Ok(Step::Wait);
        }
        let hash = rec
            .hash
            .ok_or_else(|| Error::Corrupt("final tx without hash".into()))?;
        let deposits = src.chain.deposits_in(hash).await?;
        let Some(dep) = deposits.iter().find(|d| d.escrow == plan.from.escrow) else {
            return Ok(Step::Failed(format!(
                "deposit {hash} emitted no Deposited event"
            )));
        };
        if dep.amount < plan.amount_in {
            return Ok(Step::Failed(format!(
                "escrow received {} of {}",
                dep.amount, plan.amount_in
            )));
        }
        self.set_hop(id, i, "deposited", Some(dep.id))?;
        Ok(Step::Wait)
    }

    fn start_release(&self, id: &str, i: usize, plan: &HopPlan, deposit: B256) -> Result<Step> {
        let dst = self.lane(plan.to.chain_id)?;
        let name = intent(id, i, "release");
        if dst.lane.get(&name)?.is_none() {
            let deadline = switchyard_core::now_ms() / 1000 + self.release_ttl_s;
            let data = escrow::signed_release(
                &ReleaseOrder {
                    source_chain_id: plan.from.chain_id,
                    deposit_id: deposit,
                    destination_chain_id: plan.to.chain_id,
                    escrow: plan.to.escrow,
                    token: plan.to.token,
                    recipient: plan.recipient,
                    amount: plan.amount_out,
                    deadline,
                },
                &self.attesters,
                "SWITCHYARD_SIGNER_KEY",
            )
            .map_err(|e| Error::Config(e.to_string()))?;
            dst.lane.reserve(
                &name,
                &Call {
                    to: plan.to.escrow,
                    data,
                    value: U256::ZERO,
                    gas_limit: None,
                },
                plan.to.finality,
            )?;
        }
        self.set_hop(id, i, "releasing", None)?;
        Ok(Step::Wait)
    }

    async fn await_release(
        &self,
        id: &str,
        i: usize,
        plan: &HopPlan,
        deposit: Option<B256>,
    ) -> Result<Step> {
        let dst = self.lane(plan.to.chain_id)?;
        let Some(rec) = dst.lane.get(&intent(id, i, "release"))? else {
            return Err(Error::Corrupt("releasing hop without its release".into()));
        };
        if rec.succeeded() {
            self.set_hop(id, i, "done", None)?;
            return Ok(Step::Done);
        }
        if let Some(why) = failure(&rec) {
            // Released by an earlier transaction of this deposit? Then it
            // is paid: the guard refused a second payment, as it should.
            if let Some(dep) = deposit
                && dst
                    .chain
                    .released(plan.to.escrow, plan.from.chain_id, dep)
                    .await?
            {
                self.set_hop(id, i, "done", None)?;
                return Ok(Step::Done);
            }
            return Ok(Step::Failed(format!("release: {why}")));
        }
        Ok(Step::Wait)
    }
}

enum Step {
    Wait,
    Done,
    Failed(String),
}

fn failure(rec: &TxRecord) -> Option<String> {
    if !rec.failed() {
        return None;
    }
    Some(match &rec.cancelled {
        Some(why) => format!("not sent, simulation reverted: {why}"),
        None => format!("reverted on chain in {:?}", rec.hash),
    })
}

fn intent(id: &str, hop: usize, kind: &str) -> String {
    format!("transfer:{id}:{hop}:{kind}")
}
