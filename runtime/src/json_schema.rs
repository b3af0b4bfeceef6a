//! JSON Schema validation of registry-written JSON (the `json-schema` feature): the writer's
//! schema from the registry, compiled once per schema id, checked before `Json<T>` deserializes.

use serde::de::DeserializeOwned;

use crate::decode::{DecodeContext, DecodeError, Json};

use crate::schema::{unframe, RegisteredSchema, SchemaFormat, Sniff};

/// Unframes, validates against `writer` and deserializes a registry-written JSON payload.
pub(crate) fn decode_validated<T: DeserializeOwned>(
    bytes: &[u8],
    cx: &DecodeContext<'_>,
    writer: &RegisteredSchema,
) -> Result<Json<T>, DecodeError> {
    let unframed = unframe(bytes, cx, Sniff::Safe)
        .map_err(|e| DecodeError::invalid(format_args!("registry-framed JSON: {e}")))?;
    if !matches!(writer.format(), SchemaFormat::Json) {
        return Err(DecodeError::invalid(format_args!(
            "the writer schema {} is {}, not a JSON Schema",
            writer.reference(),
            writer.format()
        )));
    }
    let validator = writer.parsed(compile).map_err(|e| {
        DecodeError::invalid(format_args!("the JSON Schema {}: {e}", writer.reference()))
    })?;
    let value: serde_json::Value = match serde_json::from_slice(&unframed.data) {
        Ok(value) => value,
        // Not JSON at all: the usual message says where.
        Err(_) => return crate::decode::parse_json(&unframed.data),
    };
    // The schema path (`/properties/amountCents/type`) is schema, never payload: the instance
    // path could hold map keys, and the error's own message quotes the value.
    let violations: Vec<String> = validator
        .iter_errors(&value)
        .take(3)
        .map(|e| format!("{} ({})", e.schema_path(), e.kind().keyword()))
        .collect();
    if !violations.is_empty() {
        return Err(DecodeError::invalid(format_args!(
            "the JSON does not match its JSON Schema ({}): {}",
            writer.reference(),
            violations.join("; ")
        )));
    }
    // From the text again (not the `Value`): its errors then name the field and the position.
    crate::decode::parse_json(&unframed.data)
}

fn compile(definition: &str) -> Result<jsonschema::Validator, String> {
    let schema: serde_json::Value =
        serde_json::from_str(definition).map_err(|e| format!("not JSON ({e})"))?;
    jsonschema::validator_for(&schema).map_err(|e| format!("not a valid JSON Schema: {e}"))
}
