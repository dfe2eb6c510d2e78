//! Decoding of JSON-RPC params into a method's params type.
//!
//! Every method takes its params by name (`{"id": "po_…"}`), as a
//! one-element array holding that object (`[{"id": "po_…"}]`), or by
//! position in the order of the method's fields (`["po_…"]`), as the
//! OpenRPC document lists them. Errors name the offending field and say
//! what shape is expected in the API's own words: no Rust type names.

use jsonrpsee::types::ErrorObjectOwned;
use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error as errors;

/// Checks `raw` params (by name, a one-element array of them, or by
/// position) as a `T` and rewrites them as `[{...}]`, the one shape the
/// generated server and client use; the error names the offending field.
pub fn normalize<T: DeserializeOwned>(
    raw: Option<&str>,
) -> Result<Box<RawValue>, ErrorObjectOwned> {
    let (_, object) = decode::<T>(raw)?;
    serde_json::value::to_raw_value(&[object]).map_err(|e| errors::internal(&e.to_string()))
}

/// Decodes params (by name, a one-element array of them, or by position),
/// naming the offending field on failure.
pub fn decode_params<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ErrorObjectOwned> {
    decode::<T>(raw).map(|(t, _)| t)
}

/// The params as a `T` and as the object they were read from.
fn decode<T: DeserializeOwned>(raw: Option<&str>) -> Result<(T, Value), ErrorObjectOwned> {
    // No params at all reads as `{}`: optional fields default, required
    // ones are named as missing.
    let raw = raw.unwrap_or("{}");
    let value: Value =
        serde_json::from_str(raw).map_err(|e| errors::invalid_params("params", &e.to_string()))?;
    let names = field_names::<T>();
    let object = match value {
        Value::Array(mut items) if items.len() == 1 && items[0].is_object() => items.remove(0),
        Value::Array(items) => {
            if items.len() > names.len() {
                return Err(errors::invalid_params(
                    "params",
                    &format!(
                        "{} positional params given, at most {} expected: {}",
                        items.len(),
                        names.len(),
                        shape(names)
                    ),
                ));
            }
            Value::Object(
                names
                    .iter()
                    .map(|n| (*n).to_owned())
                    .zip(items)
                    .collect::<Map<String, Value>>(),
            )
        }
        v @ Value::Object(_) => v,
        _ => {
            return Err(errors::invalid_params(
                "params",
                &format!("expected {}", shape(names)),
            ));
        }
    };
    serde_path_to_error::deserialize(&object)
        .map(|t| (t, object.clone()))
        .map_err(|e| {
            let path = e.path().to_string();
            let inner = plain(&e.into_inner().to_string());
            let field = match (path.as_str(), unknown_field_name(&inner)) {
                (".", Some(name)) => name,
                (".", None) => "params".to_owned(),
                (_, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => path,
                // An unknown or missing field inside an item: name it in full.
                (_, Some(name)) => format!("{path}.{name}"),
                (_, None) => path,
            };
            errors::invalid_params(&field, &inner)
        })
}

/// `an object {a, b} or an array [a, b]`: the shapes a method accepts.
fn shape(names: &[&str]) -> String {
    if names.is_empty() {
        return "no params, or an empty object".to_owned();
    }
    let list = names.join(", ");
    format!("an object {{{list}}} or an array [{list}]")
}

/// serde's message without Rust type names: what follows its last
/// `expected ` (serde's own words, never the caller's input) has `struct X`
/// read `an object`, `u64` read `a whole number`, `f64` read `a number`,
/// and so on.
fn plain(msg: &str) -> String {
    let Some(at) = msg.rfind("expected ") else {
        return msg.to_owned();
    };
    let (head, tail) = msg.split_at(at + "expected ".len());
    let words: Vec<String> = tail
        .split(' ')
        .map(|w| {
            let core = w.trim_end_matches([',', '.', ')']);
            let rest = &w[core.len()..];
            let plain = match core {
                "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number",
                "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer",
                "f32" | "f64" => "a number",
                "struct" | "enum" => "\u{0}",
                _ => core,
            };
            format!("{plain}{rest}")
        })
        .collect();
    // `struct X` / `enum X`: the marker and the name after it become words.
    let mut out = Vec::new();
    let mut it = words.into_iter().peekable();
    while let Some(w) = it.next() {
        if w == "\u{0}" {
            let name = it.next().unwrap_or_default();
            let punct: String = name
                .chars()
                .rev()
                .take_while(|c| matches!(c, ',' | '.' | ')'))
                .collect();
            out.push(format!("an object{punct}"));
            // `with 2 elements` speaks of positions: drop it.
            if it.peek().map(String::as_str) == Some("with") {
                it.next();
                it.next();
                it.next();
            }
        } else {
            out.push(w);
        }
    }
    format!("{head}{}", out.join(" "))
}

fn unknown_field_name(msg: &str) -> Option<String> {
    let rest = msg
        .strip_prefix("unknown field `")
        .or_else(|| msg.strip_prefix("missing field `"))?;
    rest.split('`').next().map(str::to_owned)
}

/// The field names of a params struct, in declaration order (serde's
/// derive hands them to `deserialize_struct`).
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut names = Names(&[]);
    let _ = T::deserialize(&mut names);
    names.0
}

struct Names(&'static [&'static str]);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names read")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for &mut Names {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0 = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payout::IdParams;
    use switchyard_router::QuoteParams;

    struct Params(Option<&'static str>);
    impl Params {
        fn new(raw: Option<&'static str>) -> Self {
            Self(raw)
        }
    }
    fn decode_params<T: DeserializeOwned>(p: &Params) -> Result<T, ErrorObjectOwned> {
        super::decode_params(p.0)
    }

    fn data(e: &ErrorObjectOwned) -> String {
        e.data().map(|d| d.get().to_owned()).unwrap_or_default()
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let p = Params::new(Some(
            r#"{"from":"a:X","to":"b:Y","amount":"1","colour":"red"}"#,
        ));
        let e = decode_params::<QuoteParams>(&p).unwrap_err();
        assert_eq!(e.code(), errors::INVALID_PARAMS);
        assert_eq!(data(&e), r#"{"field":"colour"}"#);
        let p = Params::new(Some(r#"{"from":"a:X","to":"b:Y"}"#));
        let e = decode_params::<QuoteParams>(&p).unwrap_err();
        assert_eq!(data(&e), r#"{"field":"amount"}"#);
        let p = Params::new(Some(r#"[{"from":"a:X","to":"b:Y","amount":5}]"#));
        let e = decode_params::<QuoteParams>(&p).unwrap_err();
        assert_eq!(data(&e), r#"{"field":"amount"}"#);
    }

    #[test]
    fn positional_params_follow_the_field_order() {
        let p = Params::new(Some(r#"["po_0123456789abcdef"]"#));
        let id: IdParams = decode_params(&p).unwrap();
        assert_eq!(id.id, "po_0123456789abcdef");
        let p = Params::new(Some(r#"["a:X","b:Y","1"]"#));
        let q: QuoteParams = decode_params(&p).unwrap();
        assert_eq!(
            (q.from.as_str(), q.to.as_str(), q.amount.as_str()),
            ("a:X", "b:Y", "1")
        );
        assert_eq!(q.mode, None);
    }

    #[test]
    fn errors_name_no_rust_types_and_say_the_expected_shape() {
        let p = Params::new(Some(r#"["a", "b"]"#));
        let e = decode_params::<IdParams>(&p).unwrap_err();
        assert_eq!(
            e.message(),
            "invalid params: 2 positional params given, at most 1 expected: an object {id} or an array [id]"
        );
        let p = Params::new(Some(r#"[5]"#));
        let e = decode_params::<IdParams>(&p).unwrap_err();
        assert_eq!(data(&e), r#"{"field":"id"}"#);
        assert!(!e.message().contains("IdParams"), "{}", e.message());
        let p = Params::new(Some(
            r#"{"from":"a:X","to":"b:Y","amount":"1","weights":5}"#,
        ));
        let e = decode_params::<QuoteParams>(&p).unwrap_err();
        assert_eq!(data(&e), r#"{"field":"weights"}"#);
        assert!(
            e.message().contains("expected an object"),
            "{}",
            e.message()
        );
        assert!(!e.message().contains("Weights"), "{}", e.message());
    }

    #[test]
    fn a_type_name_in_serdes_message_becomes_plain_words() {
        assert_eq!(
            plain("invalid type: string \"x\", expected struct IdParams"),
            "invalid type: string \"x\", expected an object"
        );
        assert_eq!(
            plain("invalid length 0, expected struct X with 2 elements"),
            "invalid length 0, expected an object"
        );
        assert_eq!(
            plain("invalid type: string \"4\", expected u64"),
            "invalid type: string \"4\", expected a whole number"
        );
        assert_eq!(
            plain("invalid type: string \"x\", expected f64"),
            "invalid type: string \"x\", expected a number"
        );
        // The caller's own words are never rewritten.
        assert_eq!(
            plain("invalid type: string \"struct Weights u64\", expected a string"),
            "invalid type: string \"struct Weights u64\", expected a string"
        );
    }
}
