//! JSON-RPC error codes. They are part of the API: never renumber.
//!
//! | code | meaning | `data` |
//! |---|---|---|
//! | -32700, -32600, -32601 | JSON-RPC parse error, invalid request, unknown method | (jsonrpsee) |
//! | -32602 | params of the wrong shape or type | `{"field"}` |
//! | 4001 | a field's value is invalid | `{"field", "reason"}` |
//! | 4002 | a field names an unknown chain, asset, bridge or transfer | `{"field", "value"}` |
//! | 4003 | the daemon runs without a `[relayer]` section: it quotes only | — |
//! | 4004 | no route satisfies the request | `{"excluded"}`: every bridge left out and why |
//! | 4005 | the chosen route has a leg this daemon cannot execute | `{"field", "reason"}` |
//! | 4009 | the idempotency key was used for a different request | `{"field"}` |
//! | 4023 | a recipient is on the deny list (refused and audited; nothing stored) | `{"field", "chain"}` |
//! | 4503 | a chain needed to check a field cannot be read now (nothing stored); retry with the same idempotency key | `{"field", "chain"}` |
//! | 4011 | no API key, or an unknown or revoked one | — |
//! | 4029 | the key's rate limit is exceeded | `{"retry_after_ms"}` |
//! | 4031 | the key's role may not call this method | `{"required", "role"}` |
//! | -32603 | internal failure (store); retry with the same idempotency key | — |

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
        E::Unknown {
            field,
            value,
            suggestions,
        } => ErrorObjectOwned::owned(
            UNKNOWN_REFERENCE,
            e.to_string(),
            Some(json!({ "field": field, "value": value, "suggestions": suggestions })),
        ),
        E::Load { .. } => ErrorObjectOwned::owned(INVALID_FIELD, e.to_string(), None::<()>),
    }
}

/// The daemon does not execute.
pub const NOT_EXECUTING: i32 = 4003;
/// No route.
pub const NO_ROUTE: i32 = 4004;
/// A leg cannot be executed here.
pub const NOT_EXECUTABLE: i32 = 4005;
/// Idempotency key reused for another request.
pub const CONFLICT: i32 = 4009;
/// A request over a configured limit (a merchant's budget).
pub const OVER_LIMIT: i32 = 4022;
/// A recipient on the deny list.
pub const DENIED: i32 = 4023;
/// Internal failure.
pub const INTERNAL: i32 = -32603;

/// A recipient on the deny list: refused (and audited by the caller);
/// nothing was stored.
pub fn denied(field: &str, chain: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        DENIED,
        format!("{field}: the address is on the deny list for {chain}"),
        Some(json!({ "field": field, "chain": chain })),
    )
}

/// A field's value is invalid.
pub fn invalid_field(field: &str, reason: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        INVALID_FIELD,
        format!("invalid {field}: {reason}"),
        Some(json!({ "field": field, "reason": reason })),
    )
}

/// A field names something unknown (an id): the same shape as an unknown
/// chain or asset, without suggestions (ids are not guessed).
pub fn unknown(field: &str, value: &str) -> ErrorObjectOwned {
    from_core(&switchyard_core::Error::unknown(field, value))
}

/// The daemon was started without a relayer.
pub fn not_executing() -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        NOT_EXECUTING,
        "this daemon quotes only: its config has no [relayer] section",
        None::<()>,
    )
}

/// No route; `excluded` explains every bridge left out.
pub fn no_route(excluded: serde_json::Value) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        NO_ROUTE,
        "no route satisfies the request",
        Some(json!({ "excluded": excluded })),
    )
}

/// A leg of the route cannot be executed.
pub fn not_executable(field: &str, reason: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        NOT_EXECUTABLE,
        format!("cannot execute {field}: {reason}"),
        Some(json!({ "field": field, "reason": reason })),
    )
}

/// The idempotency key was used for another request.
pub fn conflict(field: &str, reason: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        CONFLICT,
        format!("{field}: {reason}"),
        Some(json!({ "field": field })),
    )
}

/// Over a configured limit: `limit` names the setting, `data` carries the
/// figures. Nothing was stored.
pub fn over_limit(
    field: &str,
    limit: &str,
    message: &str,
    data: serde_json::Value,
) -> ErrorObjectOwned {
    let mut d = json!({ "field": field, "limit": limit });
    if let (Some(m), serde_json::Value::Object(extra)) = (d.as_object_mut(), data) {
        m.extend(extra);
    }
    ErrorObjectOwned::owned(OVER_LIMIT, message.to_owned(), Some(d))
}

/// A chain needed to check a field cannot be read now.
pub const CHAIN_UNAVAILABLE: i32 = 4503;

/// A chain needed to check `field` cannot be read now: nothing was stored,
/// and the same request may be sent again.
pub fn chain_unavailable(field: &str, chain: &str, why: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        CHAIN_UNAVAILABLE,
        format!(
            "{field}: chain {chain} cannot be read now ({why}); retry with the same idempotency key"
        ),
        Some(json!({ "field": field, "chain": chain })),
    )
}

/// Internal failure; nothing was half done.
pub fn internal(message: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL, format!("internal error: {message}"), None::<()>)
}

/// No valid API key.
pub const UNAUTHORIZED: i32 = 4011;
/// Rate limited.
pub const RATE_LIMITED: i32 = 4029;
/// Role too low.
pub const FORBIDDEN: i32 = 4031;

/// No valid API key.
pub fn unauthorized(why: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(UNAUTHORIZED, format!("unauthorized: {why}"), None::<()>)
}

/// Role too low.
pub fn forbidden(method: &str, role: &str, required: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        FORBIDDEN,
        format!("a {role} key may not call {method} (needs {required})"),
        Some(json!({ "required": required, "role": role })),
    )
}

/// Over the key's rate.
pub fn rate_limited(retry_after_ms: u64) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        RATE_LIMITED,
        "rate limit exceeded for this key",
        Some(json!({ "retry_after_ms": retry_after_ms })),
    )
}

/// One error a method may answer, as the OpenRPC document lists it.
#[derive(Clone, Copy, Debug)]
pub struct ErrorDoc {
    /// The code.
    pub code: i32,
    /// What it means and what `data` holds.
    pub message: &'static str,
}

const PARAMS_DOC: ErrorDoc = ErrorDoc {
    code: INVALID_PARAMS,
    message: "params of the wrong shape or type; data.field names it",
};
const FIELD_DOC: ErrorDoc = ErrorDoc {
    code: INVALID_FIELD,
    message: "a field's value is invalid; data.field and data.reason",
};
const UNKNOWN_DOC: ErrorDoc = ErrorDoc {
    code: UNKNOWN_REFERENCE,
    message: "unknown chain, asset, bridge or id; data.field, data.value and data.suggestions",
};
const UNAUTHORIZED_DOC: ErrorDoc = ErrorDoc {
    code: UNAUTHORIZED,
    message: "no API key, or an unknown or revoked one",
};
const RATE_DOC: ErrorDoc = ErrorDoc {
    code: RATE_LIMITED,
    message: "the key's rate limit is exceeded; data.retry_after_ms",
};
const FORBIDDEN_DOC: ErrorDoc = ErrorDoc {
    code: FORBIDDEN,
    message: "the key's role may not call this method; data.required",
};

/// Errors of every method that reads its params.
pub const VALIDATION: &[ErrorDoc] = &[
    PARAMS_DOC,
    FIELD_DOC,
    UNKNOWN_DOC,
    UNAUTHORIZED_DOC,
    RATE_DOC,
    FORBIDDEN_DOC,
];

/// Errors of every method that reads or changes the relayer's state.
pub const EXECUTION: &[ErrorDoc] = &[
    PARAMS_DOC,
    FIELD_DOC,
    UNKNOWN_DOC,
    ErrorDoc {
        code: NOT_EXECUTING,
        message: "the daemon has no [relayer] section: it quotes only",
    },
    ErrorDoc {
        code: NO_ROUTE,
        message: "no route; data.excluded explains every bridge",
    },
    ErrorDoc {
        code: NOT_EXECUTABLE,
        message: "a leg of the chosen route cannot be executed here; data.field, data.reason",
    },
    ErrorDoc {
        code: CONFLICT,
        message: "the idempotency key was used for a different request",
    },
    ErrorDoc {
        code: OVER_LIMIT,
        message: "over a configured limit (a merchant's budget); data.limit names it, nothing was stored",
    },
    ErrorDoc {
        code: CHAIN_UNAVAILABLE,
        message: "a chain needed to check a field cannot be read now, nothing was stored; retry with the same idempotency key",
    },
    ErrorDoc {
        code: INTERNAL,
        message: "internal failure; retry with the same idempotency key",
    },
    UNAUTHORIZED_DOC,
    RATE_DOC,
    FORBIDDEN_DOC,
];
