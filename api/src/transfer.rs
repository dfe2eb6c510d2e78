//! Routed transfers: `transfer_submit`, `transfer_status`.

use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_relayer::Role;
pub use switchyard_relayer::{HopEnd, HopPlan, HopView, TransferView};

use crate::error::EXECUTION;
use crate::spec::Method;

/// Params of `transfer_submit`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferParams {
    /// Client-chosen key (1-128 printable ASCII characters): the same key
    /// returns the same transfer.
    pub idempotency_key: String,
    /// Source `chain:ASSET`.
    pub from: String,
    /// Destination `chain:ASSET`.
    pub to: String,
    /// Decimal amount in the source asset's units.
    pub amount: String,
    /// Who receives on the destination chain (EIP-55 checksummed or all
    /// lowercase).
    pub recipient: String,
    /// `cheapest` (default), `fastest`, `safest` or `weighted`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Hop budget.
    #[serde(default)]
    pub max_hops: Option<u64>,
}

/// Params of `transfer_status`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {
    /// Id returned by `transfer_submit`.
    pub transfer_id: String,
}

/// The answer of `transfer_submit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TransferSubmitted {
    /// False when the key was seen before (this is that transfer).
    pub created: bool,
    /// The transfer as it stands.
    pub transfer: TransferView,
}

/// Routed transfers.
#[rpc(server, client)]
pub trait TransferApi {
    /// Routes and executes a transfer.
    #[method(name = "transfer_submit", blocking, with_extensions)]
    fn transfer_submit(&self, params: TransferParams) -> RpcResult<TransferSubmitted>;

    /// A transfer and each of its hops.
    #[method(name = "transfer_status")]
    fn transfer_status(&self, params: StatusParams) -> RpcResult<TransferView>;
}

/// The methods of [`TransferApi`].
pub fn methods() -> Vec<Method> {
    vec![
        Method::call::<TransferParams, TransferSubmitted>(
            "transfer_submit",
            Some(Role::Operator),
            "Route and execute a transfer of the relayer's funds; the same idempotency key returns the same transfer. From `[relayer.approvals] transfer_dual_usd` it waits (`awaiting_approval`) for a second operator's `ops_approve`",
            EXECUTION,
            "submitted",
        )
        .writes(),
        Method::call::<StatusParams, TransferView>(
            "transfer_status",
            Some(Role::Operator),
            "A transfer and each of its hops",
            EXECUTION,
            "transfer",
        ),
    ]
}
