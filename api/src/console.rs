//! What the operators' console shows, as one typed view (`ops_view`) and
//! as a live feed of it (`ops_subscribe`): the first notification carries
//! every section, later ones only the sections that changed. Role:
//! operator, like every `ops_*` method.

use std::collections::BTreeMap;

use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_relayer::Role;
pub use switchyard_relayer::{Pause, PayoutView, TransferView};

use crate::error::EXECUTION;
use crate::spec::Method;

/// One RPC endpoint of a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EndpointRow {
    /// Redacted URL.
    pub url: String,
    /// `ok`, `lagging`, `down` or `wrong_chain`.
    pub state: String,
    /// Last head it reported.
    pub head: Option<u64>,
    /// Blocks behind the best head.
    pub lag: Option<u64>,
    /// Failures in a row.
    pub failures: u32,
    /// Its last failure (redacted).
    pub last_error: Option<String>,
}

/// A breaker: `closed`, `open` (with its reason) or `half_open`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BreakerRow {
    /// `closed`, `open` or `half_open`.
    pub state: String,
    /// Why it is open.
    pub reason: Option<String>,
}

/// The last pause or resume of a target.
pub use switchyard_relayer::console::LastChange as ChangeRow;

/// One chain at a glance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChainRow {
    /// Chain id (`devnet-a`).
    pub chain: String,
    /// Its VM: `evm`, `solana`, `ton`, `tron`.
    pub vm: String,
    /// Its numeric id on its VM (the EVM chain id), when it has one.
    pub chain_id: Option<u64>,
    /// Latest block its probe read.
    pub head: Option<u64>,
    /// Latest final block.
    pub finalized: Option<u64>,
    /// Blocks between them.
    pub lag: Option<u64>,
    /// When the reading was taken, unix ms (its age is the view's `at_ms`
    /// minus this, on the daemon's clock).
    pub observed_at_ms: Option<u64>,
    /// Older than the model's staleness limit.
    pub stale: bool,
    /// Its RPC endpoints (empty for a chain the daemon does not probe).
    pub endpoints: Vec<EndpointRow>,
    /// Its breaker.
    pub breaker: BreakerRow,
    /// The pause in force, if any.
    pub paused: Option<Pause>,
    /// The last pause or resume.
    pub last_change: Option<ChangeRow>,
}

/// One bridge at a glance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BridgeRow {
    /// Bridge id.
    pub bridge: String,
    /// `chain:ASSET` it takes.
    pub from: String,
    /// `chain:ASSET` it delivers.
    pub to: String,
    /// Its breaker.
    pub breaker: BreakerRow,
    /// The pause in force, if any.
    pub paused: Option<Pause>,
    /// The last pause or resume.
    pub last_change: Option<ChangeRow>,
    /// Destination liquidity, USD (decimal).
    pub liquidity_usd: String,
    /// Success probability the quote uses.
    pub success_p: f64,
    /// `prior` or `observed`.
    pub success_basis: String,
    /// Leg time the quote uses, seconds.
    pub eta_s: u64,
    /// `prior` or `observed`.
    pub eta_basis: String,
    /// Hops observed in the window.
    pub attempts: u32,
    /// Of which released.
    pub successes: u32,
    /// Median observed latency, seconds.
    pub latency_p50_s: Option<u64>,
    /// 95th percentile, seconds.
    pub latency_p95_s: Option<u64>,
    /// Hops under way.
    pub in_flight: u32,
}

/// Payouts of one chain in one state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QueueCount {
    /// Chain id.
    pub chain: String,
    /// Payout state.
    pub state: String,
    /// How many.
    pub count: i64,
}

/// Payout counts at one moment: chain -> state -> count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QueueSample {
    /// When, unix ms.
    pub at_ms: u64,
    /// Chain -> state -> count.
    pub counts: BTreeMap<String, BTreeMap<String, i64>>,
}

/// A transaction of a lane that is not final yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LaneTx {
    /// What it carries (`payout-batch:…`, `transfer:…:deposit`).
    pub intent: String,
    /// Its replay fence (the EVM nonce).
    pub nonce: u64,
    /// `reserved`, `signed`, `sent`, `included`.
    pub state: String,
    /// Signed attempts so far.
    pub attempts: usize,
    /// Latest attempt's hash.
    pub hash: Option<String>,
    /// Its last failure.
    pub last_error: Option<String>,
    /// Last change, unix ms.
    pub updated_ms: i64,
}

/// One (chain, signer) lane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LaneRow {
    /// Chain id.
    pub chain: String,
    /// The signer.
    pub sender: String,
    /// Next replay fence it will use.
    pub next_nonce: Option<u64>,
    /// Why it sends nothing, if it is halted.
    pub halted: Option<String>,
    /// Its transactions not final yet, by fence.
    pub pending: Vec<LaneTx>,
}

/// Queues: payouts by chain and state now and over time, held items, lanes,
/// transfers in flight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Queues {
    /// Now.
    pub payouts: Vec<QueueCount>,
    /// Held payouts with their reasons (oldest first, at most 200).
    pub held: Vec<PayoutView>,
    /// Every lane.
    pub lanes: Vec<LaneRow>,
    /// Transfers not done, hop by hop (at most 50).
    pub transfers: Vec<TransferView>,
}

/// A payout waiting for operators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalRow {
    /// The payout.
    pub payout: PayoutView,
    /// Its USD value (decimal).
    pub usd: String,
    /// Approvals it needs.
    pub needed: i64,
    /// Operators who approved so far.
    pub approved_by: Vec<String>,
}

/// One chain's governor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GovernorRow {
    /// Chain id.
    pub chain: String,
    /// Budget per window, USD (decimal).
    pub budget_usd: String,
    /// Used in the window, USD (decimal).
    pub used_usd: String,
    /// Left in the window, USD (decimal).
    pub remaining_usd: String,
    /// Window, ms.
    pub window_ms: u64,
    /// Payouts it holds.
    pub queued: i64,
    /// Their USD value (decimal).
    pub queued_usd: String,
}

/// One merchant's payouts in a window: its budget's window when it has
/// one (counted as intake counts it), else the last day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MerchantRow {
    /// The merchant (its key's name).
    pub merchant: String,
    /// Items created in the window (failed and cancelled not counted).
    pub items: i64,
    /// Their USD value (decimal).
    pub used_usd: String,
    /// The window, ms.
    pub window_ms: u64,
    /// Its budget per window, when it has one.
    pub budget_usd: Option<String>,
    /// What is left of it.
    pub remaining_usd: Option<String>,
}

/// Budgets and their use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Limits {
    /// Per governed chain.
    pub governor: Vec<GovernorRow>,
    /// Per merchant.
    pub merchants: Vec<MerchantRow>,
}

/// Everything the console shows, at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OpsView {
    /// When it was read, unix ms.
    pub at_ms: u64,
    /// Every `chain:ASSET` of the topology (for the route explorer).
    pub assets: Vec<String>,
    /// Chains.
    pub chains: Vec<ChainRow>,
    /// Bridges.
    pub bridges: Vec<BridgeRow>,
    /// Pauses in force (chains, bridges and routes).
    pub pauses: Vec<Pause>,
    /// The last pause or resume of every target.
    pub changes: Vec<ChangeRow>,
    /// Queues.
    pub queues: Queues,
    /// Payout counts sampled every few seconds (the last half hour).
    pub history: Vec<QueueSample>,
    /// Payouts waiting for operators.
    pub approvals: Vec<ApprovalRow>,
    /// Budgets.
    pub limits: Limits,
    /// The audit log's last sequence number (entries are numbered from 1
    /// without gaps), so a reader knows when to fetch the newest page.
    pub audit_head: i64,
}

/// The answer of `auth_whoami`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Whoami {
    /// The key's name (the actor in the audit log).
    pub name: String,
    /// Its role: `wallet`, `merchant`, `operator` or `admin`.
    pub role: String,
    /// Whether the role may operate (`ops_*` methods, the console).
    pub operates: bool,
}

/// A notification of `ops_subscribe`: the sections of [`OpsView`] that
/// changed (all of them in the first), by name. `history` comes whole in
/// the first notification only; later ones carry the samples taken since
/// in `history_append`. One with no sections is a heartbeat (at least
/// every 2 s): a reader that hears nothing for longer knows its view is
/// stale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OpsUpdate {
    /// When it was read, unix ms.
    pub at_ms: u64,
    /// Section name (`chains`, `bridges`, `pauses`, `changes`, `queues`,
    /// `history`, `approvals`, `limits`, `assets`, `audit_head`) -> its new value.
    pub sections: BTreeMap<String, Value>,
    /// Samples of `history` taken since the last notification, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history_append: Vec<QueueSample>,
}

/// The console's live view.
#[rpc(server, client)]
pub trait ConsoleApi {
    /// Who the caller's key is.
    #[method(name = "auth_whoami", with_extensions)]
    fn auth_whoami(&self) -> RpcResult<Whoami>;

    /// Everything the console shows, now.
    #[method(name = "ops_view", blocking)]
    fn ops_view(&self) -> RpcResult<OpsView>;

    /// An `ops_update` whenever a section of the view changes. The key is
    /// checked again every 2 s: revoked, or no longer an operator's, the
    /// subscription ends with an error.
    #[subscription(name = "ops_subscribe" => "ops_update", unsubscribe = "ops_unsubscribe", item = OpsUpdate, with_extensions)]
    async fn ops_subscribe(&self) -> SubscriptionResult;
}

/// The methods of [`ConsoleApi`].
pub fn methods() -> Vec<Method> {
    let op = Some(Role::Operator);
    vec![
        Method::bare::<Whoami>(
            "auth_whoami",
            Some(Role::Wallet),
            "The caller's key: its name, its role, and whether it may operate (the console signs in with it)",
            EXECUTION,
            "whoami",
        ),
        Method::bare::<OpsView>(
            "ops_view",
            op,
            "Everything the operators' console shows: chains and their endpoints, bridges and their health, pauses and who made them, queues, lanes, transfers in flight, approvals, budgets",
            EXECUTION,
            "view",
        )
        .writes(),
        Method::subscription::<OpsUpdate>(
            "ops_subscribe",
            "ops_update",
            "ops_unsubscribe",
            op,
            "WebSocket only: an ops_update notification with every section of ops_view first, then the sections that change (checked twice a second; history as appended samples; a heartbeat at least every 2 s); ends with an error once the key is revoked or loses the operator role",
            EXECUTION,
        ),
    ]
}
