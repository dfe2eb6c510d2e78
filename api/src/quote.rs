//! `route_quote`: ranked routes between two `chain:ASSET`s.

use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
pub use switchyard_router::quote::{
    ExclusionView, LegView, QuoteParams, Reason, RouteView, Weights,
};

use crate::error::VALIDATION;
use crate::spec::Method;

/// What the governor would do with a route's amount now, on a chain
/// under a notional limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GovernorNote {
    /// Whether a payout of this amount would wait.
    pub delayed: bool,
    /// Until when, unix ms (when delayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    /// Why it waits (when delayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A route of the answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QuotedRoute {
    /// The route.
    #[serde(flatten)]
    pub route: RouteView,
    /// On a chain under a notional limit: the governor's word on it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governor: Option<GovernorNote>,
}

/// The answer of `route_quote`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QuoteResult {
    /// Routes, best first.
    pub routes: Vec<QuotedRoute>,
    /// Every bridge near the source or destination left out, and why.
    pub excluded: Vec<ExclusionView>,
    /// Set (and no routes) when an operator paused this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
}

/// Quotes.
#[rpc(server, client)]
pub trait QuoteApi {
    /// Ranked routes for moving an amount from one chain:asset to another.
    #[method(name = "route_quote")]
    fn route_quote(&self, params: QuoteParams) -> RpcResult<QuoteResult>;
}

/// The methods of [`QuoteApi`].
pub fn methods() -> Vec<Method> {
    vec![Method::call::<QuoteParams, QuoteResult>(
        "route_quote",
        Some(switchyard_relayer::Role::Wallet),
        "Ranked routes for moving an amount from one chain:asset to another",
        VALIDATION,
        "quote",
    )]
}
