//! The OpenRPC document served by `rpc.discover`.

use serde_json::{Value, json};

use super::errors::{INVALID_FIELD, INVALID_PARAMS, UNKNOWN_REFERENCE};

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
                "paramStructure": "by-name",
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
                "name": "rpc.discover",
                "summary": "This document",
                "params": [],
                "result": { "name": "openrpc", "schema": { "type": "object" } }
            }
        ]
    })
}
