//! The OpenRPC document served by `rpc.discover`.

use serde_json::{Value, json};

use super::errors::{
    CONFLICT, FORBIDDEN, INTERNAL, INVALID_FIELD, INVALID_PARAMS, NO_ROUTE, NOT_EXECUTABLE,
    NOT_EXECUTING, RATE_LIMITED, UNAUTHORIZED, UNKNOWN_REFERENCE,
};

fn transfer_schema() -> Value {
    let end = json!({
        "type": "object",
        "properties": {
            "chain_id": { "type": "integer" },
            "escrow": { "type": "string" },
            "token": { "type": "string" },
            "finality": { "type": "object", "description": "{blocks: n} or {tag: ...}: the depth this hop waits for at this amount" }
        }
    });
    json!({
        "type": "object",
        "required": ["id", "idempotency_key", "state", "hops", "created_ms"],
        "properties": {
            "id": { "type": "string", "description": "tr_ + 16 hex digits" },
            "idempotency_key": { "type": "string" },
            "state": { "type": "string", "enum": ["pending", "done", "failed"] },
            "error": { "type": ["string", "null"] },
            "created_ms": { "type": "integer" },
            "hops": { "type": "array", "items": {
                "type": "object",
                "properties": {
                    "bridge": { "type": "string" },
                    "from": end.clone(),
                    "to": end,
                    "amount_in": { "type": "string", "description": "base units, decimal" },
                    "amount_out": { "type": "string", "description": "base units, decimal, after the bridge fee" },
                    "recipient": { "type": "string" },
                    "state": { "type": "string", "enum": ["pending", "depositing", "deposited", "releasing", "done", "refunding", "refunded", "failed"] },
                    "note": { "type": ["string", "null"], "description": "what a waiting hop waits for" },
                    "deposit_id": { "type": ["string", "null"] },
                    "deposit_tx": { "type": ["string", "null"] },
                    "release_tx": { "type": ["string", "null"] }
                }
            }}
        }
    })
}

fn payout_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "idempotency_key", "index", "to", "recipient", "amount", "amount_base", "state", "created_ms"],
        "properties": {
            "id": { "type": "string", "description": "po_ + 16 hex digits" },
            "idempotency_key": { "type": "string" },
            "index": { "type": "integer", "description": "position in the request" },
            "to": { "type": "string", "description": "chain:ASSET" },
            "recipient": { "type": "string" },
            "amount": { "type": ["string", "null"], "description": "human units of the asset, decimal (as submitted)" },
            "amount_base": { "type": "string", "description": "base units, decimal" },
            "memo": { "type": ["string", "null"] },
            "state": { "type": "string", "enum": ["queued", "routed", "held", "batched", "submitted", "confirmed", "final", "failed", "cancelled"] },
            "confirmations": { "type": ["integer", "null"], "description": "while confirmed" },
            "reason": { "type": ["string", "null"], "description": "why held or failed" },
            "batch_id": { "type": ["string", "null"] },
            "tx": { "type": ["string", "null"] },
            "block": { "type": ["integer", "null"] },
            "created_ms": { "type": "integer" }
        }
    })
}

fn transfer_errors() -> Value {
    let mut e = errors();
    if let Some(a) = e.as_array_mut() {
        a.extend([
            json!({ "code": NOT_EXECUTING, "message": "the daemon has no [relayer] section: it quotes only" }),
            json!({ "code": NO_ROUTE, "message": "no route; data.excluded explains every bridge" }),
            json!({ "code": NOT_EXECUTABLE, "message": "a leg of the chosen route cannot be executed here; data.field, data.reason" }),
            json!({ "code": CONFLICT, "message": "the idempotency key was used for a different request" }),
            json!({ "code": INTERNAL, "message": "internal failure; retry with the same idempotency key" }),
            json!({ "code": UNAUTHORIZED, "message": "no API key, or an unknown or revoked one" }),
            json!({ "code": RATE_LIMITED, "message": "the key's rate limit is exceeded; data.retry_after_ms" }),
            json!({ "code": FORBIDDEN, "message": "the key's role may not call this method; data.required" }),
        ]);
    }
    e
}

fn quote_result_schema() -> Value {
    json!({
        "type": "object",
        "required": ["routes", "excluded"],
        "properties": {
            "routes": { "type": "array", "items": {
                "type": "object",
                "required": ["legs", "amount_out", "eta_s", "success_p"],
                "properties": {
                    "legs": { "type": "array", "items": {
                        "type": "object",
                        "required": ["bridge", "from", "to", "amount_in", "amount_out", "eta_s", "success_p"],
                        "properties": {
                            "bridge": { "type": "string" },
                            "from": { "type": "string", "description": "chain:ASSET" },
                            "to": { "type": "string", "description": "chain:ASSET" },
                            "amount_in": { "type": "string", "description": "decimal, human units of from" },
                            "amount_out": { "type": "string", "description": "decimal, human units of to" },
                            "eta_s": { "type": "integer" },
                            "success_p": { "type": "number" }
                        }
                    }},
                    "amount_out": { "type": "string" },
                    "eta_s": { "type": "integer" },
                    "success_p": { "type": "number" }
                }
            }},
            "excluded": { "type": "array", "items": {
                "type": "object",
                "required": ["bridge", "reason", "detail"],
                "properties": {
                    "bridge": { "type": "string" },
                    "reason": { "type": "string", "enum": [
                        "paused", "breaker_open", "stale_reading", "over_max", "over_liquidity",
                        "below_min", "fee_exceeds_amount", "amount_overflow", "hop_budget", "no_route",
                        "no_feasible_path", "dead_end", "dominated", "outranked", "over_limits"
                    ]},
                    "detail": { "type": "string" }
                }
            }}
        }
    })
}

fn errors() -> Value {
    json!([
        { "code": INVALID_PARAMS, "message": "params of the wrong shape or type; data.field names it" },
        { "code": INVALID_FIELD, "message": "a field's value is invalid; data.field and data.reason" },
        { "code": UNKNOWN_REFERENCE, "message": "unknown chain, asset or bridge; data.field and data.value" }
    ])
}

/// The OpenRPC 1.2.6 document of every method.
pub fn document() -> Value {
    let string = |d: &str| json!({ "type": "string", "description": d });
    json!({
        "openrpc": "1.2.6",
        "info": {
            "title": "Switchyard",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Cross-chain stablecoin withdrawal routing and relaying"
        },
        "methods": [
            {
                "name": "route_quote",
                "summary": "Ranked routes for moving an amount from one chain:asset to another",
                "paramStructure": "either",
                "params": [
                    { "name": "from", "required": true, "schema": string("source, CHAIN:ASSET") },
                    { "name": "to", "required": true, "schema": string("destination, CHAIN:ASSET") },
                    { "name": "amount", "required": true, "schema": string("decimal amount in human units of the source asset") },
                    { "name": "mode", "schema": { "type": "string", "enum": ["pareto", "cheapest", "fastest", "safest", "weighted"], "default": "pareto" } },
                    { "name": "max_hops", "schema": { "type": "integer", "minimum": 1, "maximum": 8, "default": 4 } },
                    { "name": "weights", "schema": { "type": "object", "description": "weighted mode: cost = fee*fee_usd + time*eta_hours + risk*(1-p)*amount_usd",
                        "properties": { "fee": { "type": "number", "default": 1 }, "time": { "type": "number", "default": 0 }, "risk": { "type": "number", "default": 1 } } } },
                    { "name": "max_fee", "schema": string("weighted mode: largest fee, decimal, destination units") },
                    { "name": "max_eta_s", "schema": { "type": "integer", "minimum": 0 } },
                    { "name": "min_success_p", "schema": { "type": "number", "minimum": 0, "maximum": 1 } }
                ],
                "result": { "name": "quote", "schema": quote_result_schema() },
                "errors": errors()
            },
            {
                "name": "transfer_submit",
                "summary": "Route and execute a transfer; the same idempotency key returns the same transfer",
                "paramStructure": "either",
                "params": [
                    { "name": "idempotency_key", "required": true, "schema": string("1-128 printable ASCII characters") },
                    { "name": "from", "required": true, "schema": string("source, CHAIN:ASSET") },
                    { "name": "to", "required": true, "schema": string("destination, CHAIN:ASSET") },
                    { "name": "amount", "required": true, "schema": string("decimal amount in human units of the source asset") },
                    { "name": "recipient", "required": true, "schema": string("address on the destination chain (EIP-55 checksummed or all lowercase)") },
                    { "name": "mode", "schema": { "type": "string", "enum": ["cheapest", "fastest", "safest", "weighted"], "default": "cheapest" } },
                    { "name": "max_hops", "schema": { "type": "integer", "minimum": 1, "maximum": 8 } }
                ],
                "result": { "name": "submitted", "schema": {
                    "type": "object",
                    "properties": { "created": { "type": "boolean", "description": "false when the key was seen before" }, "transfer": transfer_schema() }
                }},
                "errors": transfer_errors()
            },
            {
                "name": "transfer_status",
                "summary": "A transfer and each of its hops",
                "paramStructure": "either",
                "params": [
                    { "name": "transfer_id", "required": true, "schema": string("id from transfer_submit") }
                ],
                "result": { "name": "transfer", "schema": transfer_schema() },
                "errors": transfer_errors()
            },
            {
                "name": "payout_submit",
                "summary": "Store a merchant's payouts durably, then batch and pay them; the same idempotency key and body return the same ids",
                "paramStructure": "either",
                "params": [
                    { "name": "idempotency_key", "required": true, "schema": string("1-128 printable ASCII characters") },
                    { "name": "items", "required": true, "schema": { "type": "array", "minItems": 1, "maxItems": 5000, "items": {
                        "type": "object", "required": ["to", "recipient", "amount"],
                        "properties": {
                            "to": string("destination CHAIN:ASSET"),
                            "recipient": string("address on that chain"),
                            "amount": string("decimal, human units, > 0, within the asset's decimals"),
                            "memo": string("up to 256 bytes")
                        }
                    }}},
                    { "name": "source", "schema": string("CHAIN:ASSET that tops up short floats; default relayer.treasury") },
                    { "name": "mode", "schema": { "type": "string", "enum": ["cheapest", "fastest", "safest"], "default": "cheapest" } }
                ],
                "result": { "name": "submitted", "schema": { "type": "object", "properties": {
                    "created": { "type": "boolean" }, "ids": { "type": "array", "items": { "type": "string" } } } } },
                "errors": transfer_errors()
            },
            {
                "name": "payout_status",
                "summary": "One payout",
                "paramStructure": "either",
                "params": [ { "name": "id", "required": true, "schema": string("payout id") } ],
                "result": { "name": "payout", "schema": payout_schema() },
                "errors": transfer_errors()
            },
            {
                "name": "payout_list",
                "summary": "Payouts oldest first, optionally in one state, paged",
                "paramStructure": "either",
                "params": [
                    { "name": "state", "schema": string("one of the payout states") },
                    { "name": "cursor", "schema": string("next_cursor of the previous page") },
                    { "name": "limit", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }
                ],
                "result": { "name": "page", "schema": { "type": "object", "properties": {
                    "items": { "type": "array", "items": payout_schema() },
                    "next_cursor": { "type": ["string", "null"] } } } },
                "errors": transfer_errors()
            },
            {
                "name": "payout_cancel",
                "summary": "Cancel a payout not yet in a batch",
                "paramStructure": "either",
                "params": [ { "name": "id", "required": true, "schema": string("payout id") } ],
                "result": { "name": "outcome", "schema": { "type": "object", "properties": {
                    "cancelled": { "type": "boolean" }, "state": { "type": "string" } } } },
                "errors": transfer_errors()
            },
            {
                "name": "payout_deliveries",
                "summary": "The webhook deliveries of one payout, every attempt counted",
                "paramStructure": "either",
                "params": [ { "name": "id", "required": true, "schema": string("payout id") } ],
                "result": { "name": "deliveries", "schema": { "type": "object", "properties": { "deliveries": { "type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "integer", "description": "also the Switchyard-Event-Id header" },
                        "payout_id": { "type": "string" },
                        "state": { "type": "string" },
                        "status": { "type": "string", "enum": ["pending", "delivered", "dead"] },
                        "attempts": { "type": "integer" },
                        "last_status": { "type": ["integer", "null"] },
                        "last_error": { "type": ["string", "null"] }
                    }
                }}}}},
                "errors": transfer_errors()
            },
            {
                "name": "payout_subscribe",
                "summary": "WebSocket only: a payout_event notification {event: payout.updated, payout} at every state change; unsubscribe with payout_unsubscribe",
                "paramStructure": "either",
                "params": [ { "name": "idempotency_key", "schema": string("only events of this request") } ],
                "result": { "name": "subscription", "schema": { "type": "string" } },
                "errors": transfer_errors()
            },
            {
                "name": "ops_pause",
                "summary": "Pause a chain or a bridge: the next quote routes around it, payouts for a paused chain wait; audited",
                "paramStructure": "either",
                "params": [
                    { "name": "kind", "required": true, "schema": { "type": "string", "enum": ["chain", "bridge", "route"] } },
                    { "name": "target", "required": true, "schema": string("chain id, bridge id, or FROM_CHAIN:ASSET->TO_CHAIN:ASSET") },
                    { "name": "reason", "required": true, "schema": string("1-500 characters, shown with every exclusion") },
                    { "name": "actor", "schema": string("who, for the audit log, when the daemon runs without API keys") }
                ],
                "result": { "name": "outcome", "schema": { "type": "object", "properties": { "audit": { "type": "object" }, "pauses": { "type": "array" } } } },
                "errors": transfer_errors()
            },
            {
                "name": "ops_resume",
                "summary": "Lift a pause; audited",
                "paramStructure": "either",
                "params": [
                    { "name": "kind", "required": true, "schema": { "type": "string", "enum": ["chain", "bridge"] } },
                    { "name": "target", "required": true, "schema": string("chain id or bridge id") },
                    { "name": "reason", "required": true, "schema": string("why") },
                    { "name": "actor", "required": true, "schema": string("who") }
                ],
                "result": { "name": "outcome", "schema": { "type": "object" } },
                "errors": transfer_errors()
            },
            {
                "name": "ops_status",
                "summary": "Health, breakers not closed, pauses, payouts by state, lane transactions, transfers",
                "params": [],
                "result": { "name": "status", "schema": { "type": "object" } },
                "errors": transfer_errors()
            },
            {
                "name": "ops_audit",
                "summary": "The audit log (oldest first, paged) and whether its hash chain verifies",
                "paramStructure": "either",
                "params": [
                    { "name": "after", "schema": { "type": "integer", "description": "sequence number" } },
                    { "name": "limit", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }
                ],
                "result": { "name": "audit", "schema": { "type": "object", "properties": {
                    "entries": { "type": "array" }, "verified": { "type": "boolean" }, "broken_at": { "type": ["integer", "null"] } } } },
                "errors": transfer_errors()
            },
            {
                "name": "transfer_refund",
                "summary": "Operator: give up on a deposit waiting in escrow: its release is cancelled on the destination, then the deposit is refunded on the source; audited",
                "paramStructure": "either",
                "params": [
                    { "name": "id", "required": true, "schema": string("transfer id") },
                    { "name": "reason", "required": true, "schema": string("1-500 characters") }
                ],
                "result": { "name": "outcome", "schema": { "type": "object", "properties": { "refunding": { "type": "string" }, "audit": { "type": "object" } } } },
                "errors": transfer_errors()
            },
            {
                "name": "ops_batch_cancel",
                "summary": "Operator: give up on a submitted payout batch: it is cancelled on chain (or settles, if it executes first) and its items are paid in a new batch; audited",
                "paramStructure": "either",
                "params": [
                    { "name": "batch_id", "required": true, "schema": string("0x + 64 hex digits") },
                    { "name": "reason", "required": true, "schema": string("1-500 characters") }
                ],
                "result": { "name": "outcome", "schema": { "type": "object" } },
                "errors": transfer_errors()
            },
            {
                "name": "ops_lane_resume",
                "summary": "Operator: let a lane halted by sends from its key that it did not make run again; audited",
                "paramStructure": "either",
                "params": [
                    { "name": "chain", "required": true, "schema": string("chain id") },
                    { "name": "reason", "required": true, "schema": string("1-500 characters") }
                ],
                "result": { "name": "outcome", "schema": { "type": "object", "properties": { "resumed": { "type": "string" }, "audit": { "type": "object" } } } },
                "errors": transfer_errors()
            },
            {
                "name": "ops_approve",
                "summary": "Operator: approve a payout held for approval (distinct operators count), or admit one the governor holds for an operator (over the chain's whole budget, or without a USD price); audited",
                "paramStructure": "either",
                "params": [ { "name": "id", "required": true, "schema": string("payout id") } ],
                "result": { "name": "outcome", "schema": { "type": "object" } },
                "errors": transfer_errors()
            },
            {
                "name": "ops_reject",
                "summary": "Operator: fail a payout not yet in a batch, with a reason",
                "paramStructure": "either",
                "params": [
                    { "name": "id", "required": true, "schema": string("payout id") },
                    { "name": "reason", "required": true, "schema": string("why") }
                ],
                "result": { "name": "outcome", "schema": { "type": "object" } },
                "errors": transfer_errors()
            },
            {
                "name": "keys_create",
                "summary": "Admin: create an API key; the token is in this answer only (stored hashed)",
                "paramStructure": "either",
                "params": [
                    { "name": "role", "required": true, "schema": { "type": "string", "enum": ["wallet", "merchant", "operator", "admin"] } },
                    { "name": "name", "required": true, "schema": string("whose key: merchant or operator name") },
                    { "name": "rate_per_s", "schema": { "type": "integer", "minimum": 1 } }
                ],
                "result": { "name": "key", "schema": { "type": "object", "properties": { "key": { "type": "object" }, "token": { "type": "string" } } } },
                "errors": transfer_errors()
            },
            {
                "name": "keys_revoke",
                "summary": "Admin: revoke an API key",
                "paramStructure": "either",
                "params": [ { "name": "id", "required": true, "schema": string("key id") } ],
                "result": { "name": "outcome", "schema": { "type": "object" } },
                "errors": transfer_errors()
            },
            {
                "name": "keys_list",
                "summary": "Admin: every key, never a token",
                "params": [],
                "result": { "name": "keys", "schema": { "type": "object" } },
                "errors": transfer_errors()
            },
            {
                "name": "rpc.discover",
                "summary": "This document",
                "params": [],
                "result": { "name": "openrpc", "schema": { "type": "object" } }
            }
        ]
    })
}
