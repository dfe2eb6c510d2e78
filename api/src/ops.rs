//! Operator methods: pauses, status, the audit log, approvals, and giving
//! up on stuck deposits, batches and halted lanes. Every action is
//! audited.

use std::collections::BTreeMap;

use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_relayer::Role;
pub use switchyard_relayer::{AuditEntry, Pause};

use crate::error::EXECUTION;
use crate::spec::Method;

/// Params of `ops_pause` and `ops_resume`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseParams {
    /// `chain`, `bridge` or `route`.
    pub kind: String,
    /// Chain id (`devnet-b`), bridge id (`escrow-a-b`), or
    /// `FROM_CHAIN:ASSET->TO_CHAIN:ASSET`.
    pub target: String,
    /// Why, for the audit log (1-500 characters).
    pub reason: String,
    /// Who, for the audit log, when the daemon runs without API keys
    /// (with keys, the key's name is the actor).
    #[serde(default)]
    pub actor: Option<String>,
}

/// Params of `ops_audit`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Entries after this sequence number.
    #[serde(default)]
    pub after: Option<i64>,
    /// Page size, 1-1000 (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Params of `ops_approve`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveParams {
    /// Payout id.
    pub id: String,
}

/// Params of `ops_reject`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectParams {
    /// Payout id.
    pub id: String,
    /// Why (1-500 characters).
    pub reason: String,
}

/// Params of `transfer_refund`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundParams {
    /// Transfer id.
    pub id: String,
    /// Why (1-500 characters).
    pub reason: String,
}

/// Params of `ops_batch_cancel`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCancelParams {
    /// Batch id (0x + 64 hex digits).
    pub batch_id: String,
    /// Why (1-500 characters).
    pub reason: String,
}

/// Params of `ops_lane_resume`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LaneResumeParams {
    /// Chain (`devnet-a`).
    pub chain: String,
    /// Why it is safe now (1-500 characters).
    pub reason: String,
}

/// The answer of `ops_pause` and `ops_resume`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PauseChange {
    /// The entry written with the change.
    pub audit: AuditEntry,
    /// The pauses now in force.
    pub pauses: Vec<Pause>,
}

/// One chain's notional budget and its use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GovernorUse {
    /// The chain's topology id.
    #[serde(default)]
    pub chain: String,
    /// Its governor key: the EVM chain id, or for a chain without one
    /// (Solana) its bridge domain.
    pub chain_id: u64,
    /// Budget per window, USD (decimal).
    pub budget_usd: String,
    /// Used in the current window, USD (decimal).
    pub used_usd: String,
    /// Window length.
    pub window_ms: u64,
}

/// Lane transactions of one chain in one state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LaneCount {
    /// EVM chain id.
    pub chain_id: i64,
    /// Transaction state.
    pub state: String,
    /// How many.
    pub count: i64,
}

/// The answer of `ops_status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OpsStatus {
    /// The body of `GET /health`.
    pub health: Value,
    /// Notional budgets.
    pub governor: Vec<GovernorUse>,
    /// Pauses in force.
    pub pauses: Vec<Pause>,
    /// Payouts by state.
    pub payouts: BTreeMap<String, i64>,
    /// Lane transactions by chain and state.
    pub lanes: Vec<LaneCount>,
    /// Transfers by state: `[state, count]` pairs.
    pub transfers: Vec<(String, i64)>,
}

/// The answer of `ops_audit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditPage {
    /// Oldest first.
    pub entries: Vec<AuditEntry>,
    /// Whether the whole log's hash chain verifies.
    pub verified: bool,
    /// The first entry that does not, if any.
    pub broken_at: Option<i64>,
}

/// The answer of `ops_approve`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Approved {
    /// Distinct operators who approved so far.
    pub approvals: usize,
    /// How many it needs.
    pub needed: i64,
    /// Whether it was admitted past the governor.
    pub admitted: bool,
    /// The entry written with it.
    pub audit: AuditEntry,
}

/// The answer of `ops_reject`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rejected {
    /// The payout id.
    pub rejected: String,
    /// The entry written with it.
    pub audit: AuditEntry,
}

/// The answer of `transfer_refund`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Refunding {
    /// The transfer id.
    pub refunding: String,
    /// The entry written with it.
    pub audit: AuditEntry,
}

/// The answer of `ops_batch_cancel`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BatchCancelling {
    /// The batch id.
    pub cancelling: String,
}

/// The answer of `ops_lane_resume`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LaneResumed {
    /// The chain.
    pub resumed: String,
    /// The entry written with it.
    pub audit: AuditEntry,
}

/// Operators.
#[rpc(server, client)]
pub trait OpsApi {
    /// Pauses a chain, a bridge or a route.
    #[method(name = "ops_pause", blocking, with_extensions)]
    fn ops_pause(&self, params: PauseParams) -> RpcResult<PauseChange>;

    /// Lifts a pause.
    #[method(name = "ops_resume", blocking, with_extensions)]
    fn ops_resume(&self, params: PauseParams) -> RpcResult<PauseChange>;

    /// Health, budgets, pauses and queues.
    #[method(name = "ops_status")]
    fn ops_status(&self) -> RpcResult<OpsStatus>;

    /// A page of the audit log.
    #[method(name = "ops_audit")]
    fn ops_audit(&self, params: AuditParams) -> RpcResult<AuditPage>;

    /// Gives up on a deposit waiting in escrow.
    #[method(name = "transfer_refund", blocking, with_extensions)]
    fn transfer_refund(&self, params: RefundParams) -> RpcResult<Refunding>;

    /// Gives up on a submitted payout batch.
    #[method(name = "ops_batch_cancel", blocking, with_extensions)]
    fn ops_batch_cancel(&self, params: BatchCancelParams) -> RpcResult<BatchCancelling>;

    /// Lets a halted lane run again.
    #[method(name = "ops_lane_resume", blocking, with_extensions)]
    fn ops_lane_resume(&self, params: LaneResumeParams) -> RpcResult<LaneResumed>;

    /// One operator's approval of a held payout.
    #[method(name = "ops_approve", blocking, with_extensions)]
    fn ops_approve(&self, params: ApproveParams) -> RpcResult<Approved>;

    /// Fails a payout not yet in a batch.
    #[method(name = "ops_reject", blocking, with_extensions)]
    fn ops_reject(&self, params: RejectParams) -> RpcResult<Rejected>;
}

/// The methods of [`OpsApi`].
pub fn methods() -> Vec<Method> {
    let op = Some(Role::Operator);
    vec![
        Method::call::<PauseParams, PauseChange>(
            "ops_pause",
            op,
            "Pause a chain, a bridge or a route: the next quote routes around it, payouts for a paused chain wait; audited",
            EXECUTION,
            "outcome",
        )
        .writes(),
        Method::call::<PauseParams, PauseChange>(
            "ops_resume",
            op,
            "Lift a pause; audited",
            EXECUTION,
            "outcome",
        )
        .writes(),
        Method::bare::<OpsStatus>(
            "ops_status",
            op,
            "Health, breakers not closed, pauses, payouts by state, lane transactions, transfers",
            EXECUTION,
            "status",
        ),
        Method::call::<AuditParams, AuditPage>(
            "ops_audit",
            op,
            "The audit log (oldest first, paged) and whether its hash chain verifies",
            EXECUTION,
            "audit",
        ),
        Method::call::<RefundParams, Refunding>(
            "transfer_refund",
            op,
            "Operator: give up on a deposit waiting in escrow: its release is cancelled on the destination, then the deposit is refunded on the source; audited",
            EXECUTION,
            "outcome",
        )
        .writes(),
        Method::call::<BatchCancelParams, BatchCancelling>(
            "ops_batch_cancel",
            op,
            "Operator: give up on a submitted payout batch: it is cancelled on chain (or settles, if it executes first) and its items are paid in a new batch; audited",
            EXECUTION,
            "outcome",
        )
        .writes(),
        Method::call::<LaneResumeParams, LaneResumed>(
            "ops_lane_resume",
            op,
            "Operator: let a lane halted by sends from its key that it did not make run again; audited",
            EXECUTION,
            "outcome",
        )
        .writes(),
        Method::call::<ApproveParams, Approved>(
            "ops_approve",
            op,
            "Operator: approve a payout held for approval (distinct operators count), admit one the governor holds for an operator (over the chain's whole budget, or without a USD price), or, with a `tr_` id, be the second operator of a large transfer (not its submitter); audited",
            EXECUTION,
            "outcome",
        )
        .writes(),
        Method::call::<RejectParams, Rejected>(
            "ops_reject",
            op,
            "Operator: fail a payout not yet in a batch, with a reason",
            EXECUTION,
            "outcome",
        )
        .writes(),
    ]
}
