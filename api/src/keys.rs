//! API keys: `keys_create`, `keys_revoke`, `keys_list` (admin only).

use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_relayer::Role;
pub use switchyard_relayer::{ApiKey, AuditEntry};

use crate::error::EXECUTION;
use crate::spec::Method;

/// Params of `keys_create`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyCreateParams {
    /// `wallet`, `merchant`, `operator` or `admin`.
    pub role: String,
    /// Whose key: the merchant's or operator's name (1-64 characters).
    pub name: String,
    /// Requests per second (default from `[auth]`).
    #[serde(default)]
    pub rate_per_s: Option<u32>,
}

/// Params of `keys_revoke`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRevokeParams {
    /// Key id (`key_...`).
    pub id: String,
}

/// The answer of `keys_create`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyCreated {
    /// The key as stored.
    pub key: ApiKey,
    /// The bearer token: in this answer only (stored hashed).
    pub token: String,
    /// The entry written with it.
    pub audit: AuditEntry,
}

/// The answer of `keys_revoke`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyRevoked {
    /// The key id.
    pub revoked: String,
    /// The entry written with it.
    pub audit: AuditEntry,
}

/// The answer of `keys_list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyList {
    /// Every key, revoked ones included; never a token.
    pub keys: Vec<ApiKey>,
}

/// Keys.
#[rpc(server, client)]
pub trait KeysApi {
    /// Creates a key.
    #[method(name = "keys_create", blocking, with_extensions)]
    fn keys_create(&self, params: KeyCreateParams) -> RpcResult<KeyCreated>;

    /// Revokes a key.
    #[method(name = "keys_revoke", blocking, with_extensions)]
    fn keys_revoke(&self, params: KeyRevokeParams) -> RpcResult<KeyRevoked>;

    /// Every key.
    #[method(name = "keys_list")]
    fn keys_list(&self) -> RpcResult<KeyList>;
}

/// The methods of [`KeysApi`].
pub fn methods() -> Vec<Method> {
    let admin = Some(Role::Admin);
    vec![
        Method::call::<KeyCreateParams, KeyCreated>(
            "keys_create",
            admin,
            "Admin: create an API key; the token is in this answer only (stored hashed)",
            EXECUTION,
            "key",
        )
        .writes(),
        Method::call::<KeyRevokeParams, KeyRevoked>(
            "keys_revoke",
            admin,
            "Admin: revoke an API key",
            EXECUTION,
            "outcome",
        )
        .writes(),
        Method::bare::<KeyList>(
            "keys_list",
            admin,
            "Admin: every key, never a token",
            EXECUTION,
            "keys",
        ),
    ]
}
