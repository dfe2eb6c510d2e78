//! JSON-RPC error codes. They are part of the API: never renumber.
//!
//! | code | meaning | `data` |
//! |---|---|---|
//! | -32700, -32600, -32601 | JSON-RPC parse error, invalid request, unknown method | (jsonrpsee) |
//! | -32602 | params of the wrong shape or type | `{"field"}` |
//! | 4001 | a field's value is invalid | `{"field", "reason"}` |
//! | 4002 | a field names an unknown chain, asset or bridge | `{"field", "value"}` |

use jsonrpsee::types::ErrorObjectOwned;
use serde_json::json;

/// Params of the wrong shape or type.
pub const INVALID_PARAMS: i32 = -32602;
/// A field's value is invalid.
pub const INVALID_FIELD: i32 = 4001;
/// A field names something unknown.
pub const UNKNOWN_REFERENCE: i32 = 4002;

/// Malformed params: wrong JSON type, missing or unknown field.
pub fn invalid_params(field: &str, message: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        INVALID_PARAMS,
        format!("invalid params: {message}"),
        Some(json!({ "field": field })),
    )
}

/// Maps a validation error from `core` to its stable code.
pub fn from_core(e: &switchyard_core::Error) -> ErrorObjectOwned {
    use switchyard_core::Error as E;
    match e {
        E::Invalid { field, reason } => ErrorObjectOwned::owned(
            INVALID_FIELD,
            e.to_string(),
            Some(json!({ "field": field, "reason": reason })),
        ),
        E::Unknown { field, value } => ErrorObjectOwned::owned(
            UNKNOWN_REFERENCE,
            e.to_string(),
            Some(json!({ "field": field, "value": value })),
        ),
        E::Load { .. } => ErrorObjectOwned::owned(INVALID_FIELD, e.to_string(), None::<()>),
    }
}
