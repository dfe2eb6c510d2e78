//! Merchant payouts: `payout_submit`, `payout_status`, `payout_list`,
//! `payout_cancel`, `payout_deliveries`, and the `payout_subscribe`
//! subscription.

use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_relayer::Role;
pub use switchyard_relayer::{DeliveryView, PayoutView, Submitted};

use crate::error::EXECUTION;
use crate::spec::Method;

/// Most items one request may carry.
pub const MAX_ITEMS: usize = 5_000;
/// Longest memo, bytes.
pub const MAX_MEMO: usize = 256;

/// One item of `payout_submit`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemParams {
    /// Destination `chain:ASSET`.
    pub to: String,
    /// Recipient address on that chain.
    pub recipient: String,
    /// Decimal amount in the asset's units, what the recipient receives.
    pub amount: String,
    /// Free text (at most 256 bytes).
    #[serde(default)]
    pub memo: Option<String>,
}

/// Params of `payout_submit`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitParams {
    /// 1-128 printable ASCII characters. Same key, same body: same ids.
    pub idempotency_key: String,
    /// The payouts (1 to 5,000).
    pub items: Vec<ItemParams>,
    /// `chain:ASSET` that tops up a chain's float when it is short
    /// (default: the relayer's `treasury`).
    #[serde(default)]
    pub source: Option<String>,
    /// Route mode of those top-ups: `cheapest` (default), `fastest`,
    /// `safest`.
    #[serde(default)]
    pub mode: Option<String>,
}

/// Params naming one payout.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdParams {
    /// Payout id.
    pub id: String,
}

/// Params of `payout_subscribe`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeParams {
    /// Only events of this request.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Only this merchant's events (set from a merchant's key).
    #[serde(skip)]
    pub owner: Option<String>,
}

impl SubscribeParams {
    /// Whether event `ev` passes the filter.
    pub fn matches(&self, ev: &Value) -> bool {
        let key = match &self.idempotency_key {
            None => true,
            Some(k) => ev["payout"]["idempotency_key"].as_str() == Some(k.as_str()),
        };
        let owner = match &self.owner {
            None => true,
            Some(o) => ev["payout"]["owner"].as_str() == Some(o.as_str()),
        };
        key && owner
    }
}

/// Params of `payout_list`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only items in this state (one of the payout states).
    #[serde(default)]
    pub state: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// A page of `payout_list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PayoutPage {
    /// Oldest first.
    pub items: Vec<PayoutView>,
    /// The `cursor` of the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// The answer of `payout_cancel`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Cancelled {
    /// Whether this call cancelled it (false: too late, or done before).
    pub cancelled: bool,
    /// Its state now.
    pub state: String,
}

/// The answer of `payout_deliveries`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Deliveries {
    /// Every webhook delivery of the payout.
    pub deliveries: Vec<DeliveryView>,
}

/// A `payout_event` notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PayoutEvent {
    /// `payout.updated`.
    pub event: String,
    /// The payout as it stands after the change.
    pub payout: PayoutView,
}

/// Merchant payouts.
#[rpc(server, client)]
pub trait PayoutApi {
    /// Stores a merchant's payouts durably (one transaction, an fsync)
    /// before answering.
    #[method(name = "payout_submit", blocking, with_extensions)]
    fn payout_submit(&self, params: SubmitParams) -> RpcResult<Submitted>;

    /// One payout.
    #[method(name = "payout_status", with_extensions)]
    fn payout_status(&self, params: IdParams) -> RpcResult<PayoutView>;

    /// A page of payouts.
    #[method(name = "payout_list", with_extensions)]
    fn payout_list(&self, params: ListParams) -> RpcResult<PayoutPage>;

    /// Cancels a payout not yet in a batch.
    #[method(name = "payout_cancel", blocking, with_extensions)]
    fn payout_cancel(&self, params: IdParams) -> RpcResult<Cancelled>;

    /// The webhook deliveries of one payout.
    #[method(name = "payout_deliveries", with_extensions)]
    fn payout_deliveries(&self, params: IdParams) -> RpcResult<Deliveries>;
}

/// Payout events over WebSocket.
#[rpc(server, client)]
pub trait PayoutEventsApi {
    /// A `payout_event` at every state change of a visible payout.
    #[subscription(name = "payout_subscribe" => "payout_event", unsubscribe = "payout_unsubscribe", item = PayoutEvent, with_extensions)]
    async fn payout_subscribe(&self, params: SubscribeParams) -> SubscriptionResult;
}

/// The methods of [`PayoutApi`] and [`PayoutEventsApi`].
pub fn methods() -> Vec<Method> {
    let merchant = Some(Role::Merchant);
    vec![
        Method::call::<SubmitParams, Submitted>(
            "payout_submit",
            merchant,
            "Store a merchant's payouts durably, then batch and pay them; the same idempotency key and body return the same ids",
            EXECUTION,
            "submitted",
        )
        .writes(),
        Method::call::<IdParams, PayoutView>(
            "payout_status",
            merchant,
            "One payout",
            EXECUTION,
            "payout",
        ),
        Method::call::<ListParams, PayoutPage>(
            "payout_list",
            merchant,
            "Payouts oldest first, optionally in one state, paged",
            EXECUTION,
            "page",
        ),
        Method::call::<IdParams, Cancelled>(
            "payout_cancel",
            merchant,
            "Cancel a payout not yet in a batch",
            EXECUTION,
            "outcome",
        )
        .writes(),
        Method::call::<IdParams, Deliveries>(
            "payout_deliveries",
            merchant,
            "The webhook deliveries of one payout, every attempt counted",
            EXECUTION,
            "deliveries",
        ),
        Method::subscription::<PayoutEvent>(
            "payout_subscribe",
            "payout_event",
            "payout_unsubscribe",
            merchant,
            "WebSocket only: a payout_event notification {event: payout.updated, payout} at every state change; unsubscribe with payout_unsubscribe",
            EXECUTION,
        ).taking::<SubscribeParams>(),
    ]
}
