//! The OpenRPC 1.2.6 document served by `rpc.discover`, generated from the
//! [`Method`] list and the params and result types' JSON Schemas: a method
//! cannot be listed with params other than the ones it decodes.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::spec::Method;

/// Where the named schemas live in the document.
const DEFINITIONS: &str = "#/components/schemas/";

/// The document of `methods`, in their order.
pub fn document(methods: &[Method]) -> Value {
    let mut g = SchemaSettings::draft07()
        .with(|s| {
            s.definitions_path = DEFINITIONS.into();
            s.meta_schema = None;
        })
        .into_generator();
    let mut entries = Vec::with_capacity(methods.len());
    for m in methods {
        let params: Vec<Value> = match m.params {
            None => Vec::new(),
            Some(schema) => {
                let s = schema(&mut g);
                let object = resolve(g.definitions(), s.as_value());
                let required: Vec<&str> = object["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                m.param_names()
                    .iter()
                    .map(|name| {
                        let schema = object["properties"][*name].clone();
                        let mut p = json!({
                            "name": name,
                            "required": required.contains(name),
                            "schema": schema,
                        });
                        if let Some(d) = schema.get("description") {
                            p["description"] = d.clone();
                        }
                        p
                    })
                    .collect()
            }
        };
        let result = (m.result)(&mut g);
        let errors: Vec<Value> = m
            .errors
            .iter()
            .map(|e| json!({ "code": e.code, "message": e.message }))
            .collect();
        let mut entry = json!({
            "name": m.name,
            "summary": m.summary,
            "paramStructure": "either",
            "params": params,
            "result": { "name": m.result_name, "schema": result.as_value() },
            "errors": errors,
        });
        if let Some(role) = m.role {
            entry["x-role"] = json!(role.as_str());
        }
        if let (Some(n), Some(item)) = (m.notification, m.item) {
            let schema = item(&mut g);
            entry["x-notification"] = json!({ "name": n, "schema": schema.as_value() });
        }
        if let Some(u) = m.unsubscribe {
            entry["x-unsubscribe"] = json!(u);
        }
        entries.push(entry);
    }
    json!({
        "openrpc": "1.2.6",
        "info": {
            "title": "Switchyard",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Cross-chain stablecoin withdrawal routing and relaying. Params are given by name, as a one-element array holding that object, or by position in the order listed; x-role is the least API key role a method needs."
        },
        "methods": entries,
        "components": { "schemas": g.take_definitions(true) },
    })
}

/// `schema` itself, or the definition its `$ref` names.
fn resolve(definitions: &Map<String, Value>, schema: &Value) -> Value {
    schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix(DEFINITIONS))
        .and_then(|name| definitions.get(name))
        .cloned()
        .unwrap_or_else(|| schema.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Positional params follow the params type's field order, and the
    /// document is what a client reads that order from: they must agree,
    /// and every param and result has a schema.
    #[test]
    fn every_method_lists_its_params_in_positional_order_with_schemas() {
        let methods = crate::methods();
        let doc = document(&methods);
        let listed = doc["methods"].as_array().cloned().unwrap_or_default();
        assert_eq!(listed.len(), methods.len());
        for (m, entry) in methods.iter().zip(&listed) {
            assert_eq!(entry["name"], m.name);
            let names: Vec<&str> = entry["params"]
                .as_array()
                .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            assert_eq!(names, m.param_names(), "{}", m.name);
            if m.normalizer().is_some() {
                assert!(!names.is_empty(), "{}: no params read", m.name);
            }
            for p in entry["params"].as_array().into_iter().flatten() {
                assert!(
                    p["schema"].is_object(),
                    "{}.{}: no schema: {p}",
                    m.name,
                    p["name"]
                );
            }
            assert!(
                !entry["result"]["schema"].is_null(),
                "{}: no result schema",
                m.name
            );
        }
        // Every reference resolves.
        let text = doc.to_string();
        let schemas = &doc["components"]["schemas"];
        for r in text.split("\"$ref\":\"").skip(1) {
            let name = r
                .split('"')
                .next()
                .and_then(|r| r.strip_prefix(DEFINITIONS))
                .unwrap_or_default();
            assert!(schemas.get(name).is_some(), "unresolved $ref {name}");
        }
    }

    #[test]
    fn results_are_typed_down_to_their_fields() {
        let doc = document(&crate::methods());
        let schemas = &doc["components"]["schemas"];
        let payout = &schemas["PayoutView"]["properties"];
        for field in ["id", "state", "amount", "amount_base", "recipient", "tx"] {
            assert!(payout.get(field).is_some(), "PayoutView.{field}: {payout}");
        }
        let reasons = schemas["Reason"].to_string();
        assert!(reasons.contains("breaker_open"), "{reasons}");
    }
}
