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
    /// When delayed: until when, unix ms, or null while it waits for an
    /// operator (absent when not delayed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "Option<u64>")]
    pub until_ms: Option<Option<u64>>,
    /// When delayed until a known time: the seconds from the quote until
    /// then, already added to the route's and its last leg's ETA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_s: Option<u64>,
    /// Why it waits (when delayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A field that is there, even as null: `Some(None)`; absent: `None`
/// (through `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The governor's word keeps its wire form: admitted is `{delayed:
    /// false}`, a wait for an operator has `until_ms: null`.
    #[test]
    fn a_wait_without_an_end_says_null_and_an_admission_says_nothing() {
        let admit = GovernorNote {
            delayed: false,
            until_ms: None,
            wait_s: None,
            reason: None,
        };
        let operator = GovernorNote {
            delayed: true,
            until_ms: Some(None),
            wait_s: None,
            reason: Some("needs an operator".into()),
        };
        let timed = GovernorNote {
            delayed: true,
            until_ms: Some(Some(5)),
            wait_s: None,
            reason: Some("budget".into()),
        };
        let text = |n: &GovernorNote| serde_json::to_string(n).unwrap_or_default();
        assert_eq!(text(&admit), r#"{"delayed":false}"#);
        assert_eq!(
            text(&operator),
            r#"{"delayed":true,"until_ms":null,"reason":"needs an operator"}"#
        );
        assert_eq!(
            text(&timed),
            r#"{"delayed":true,"until_ms":5,"reason":"budget"}"#
        );
        for n in [admit, operator, timed] {
            let back: GovernorNote = serde_json::from_str(&text(&n)).unwrap_or(GovernorNote {
                delayed: true,
                until_ms: Some(Some(0)),
                wait_s: None,
                reason: None,
            });
            assert_eq!(back, n);
        }
    }
}
