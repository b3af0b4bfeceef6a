//! Turning a record's key or value bytes into the handler's types.

use std::fmt;
use std::ops::{Deref, DerefMut};

use bytes::Bytes;
use serde::de::DeserializeOwned;

/// A type that a record's key or value can be decoded into.
///
/// `bytes` is the base64-decoded payload, or `None` when Lambda sent the field as absent or
/// `null` (for a value: a tombstone). Implemented for:
///
/// | type | decodes |
/// |---|---|
/// | [`Json<T>`] | JSON into any `T: serde::Deserialize` |
/// | `String` | UTF-8 text |
/// | `Vec<u8>`, [`bytes::Bytes`] | the raw bytes (`Bytes` without a copy) |
/// | `Option<X>` | `None` for absent or null, else `X` |
/// | `()` | nothing: the payload is ignored and never fails |
///
/// Implement it for your own formats (Avro, Protobuf, …); an error fails only that record.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded from a Kafka record's key or value",
    label = "no `msk_lambda::Decode` for this type",
    note = "use `msk_lambda::Json<T>` for a serde type `T` (a `Json` of another crate, such as axum's, is not it), `String` for UTF-8 text, `Vec<u8>` or `bytes::Bytes` for raw bytes, `Option<_>` to accept absent or null payloads, or `()` to ignore the field",
    note = "or implement `msk_lambda::Decode` for `{Self}` to plug in your own format"
)]
pub trait Decode: Sized {
    /// Decodes the payload; `None` means the field was absent or `null`.
    fn decode(bytes: Option<&Bytes>) -> Result<Self, DecodeError>;
}

/// Why a key or value could not be decoded. Never contains the payload itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DecodeErrorKind {
    Missing,
    Invalid,
}

impl DecodeError {
    /// The field was absent or `null` but the type needs a payload.
    pub fn missing() -> Self {
        DecodeError { kind: DecodeErrorKind::Missing, message: String::new() }
    }

    /// The payload is present but not valid for the type. Do not put payload bytes in `message`:
    /// it is logged and may be returned to Lambda.
    pub fn invalid(message: impl fmt::Display) -> Self {
        DecodeError { kind: DecodeErrorKind::Invalid, message: message.to_string() }
    }

    /// True when the field was absent or `null` (a tombstone, for a value).
    pub fn is_missing(&self) -> bool {
        self.kind == DecodeErrorKind::Missing
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecodeErrorKind::Missing => f.write_str("absent or null"),
            DecodeErrorKind::Invalid => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A key or value decoded as JSON into `T`, the way axum's `Json<T>` extracts a body.
///
/// `Record<Json<MyEvent>>` is the common handler argument. `Json<T>` derefs to `T`, so
/// `record.value().user_id` reads a field directly; `.0` or [`Json::into_inner`] takes it out.
///
/// A payload that is not JSON, or not a `T`, fails its record with a message that names where:
/// ``JSON of the wrong shape at `items[2].quantity`: invalid type: string, expected i64 (line 1
/// column 35)``. The path holds only what `T` declares (field names as in the JSON, enum variants,
/// indexes); map keys are data and show as `[…]`, and no value is ever quoted. Where serde
/// buffers (`#[serde(flatten)]`, untagged enums) the path ends at the buffered field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// Takes the decoded value out.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned> Decode for Json<T> {
    fn decode(bytes: Option<&Bytes>) -> Result<Self, DecodeError> {
        let bytes = bytes.ok_or_else(DecodeError::missing)?;
        // Read as bytes, serde_json checks each string it meets for UTF-8; one check of the whole
        // payload lets it read text instead, which is ~20% faster on typical small documents.
        // Invalid UTF-8 takes the byte path, which says where the bad string is.
        let parsed = match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(bytes),
        };
        // The path of the failing field is found by a second, tracking parse of the same bytes,
        // so that the successful parse is not slowed by it.
        parsed
            .map(Json)
            .map_err(|e| DecodeError::invalid(crate::json_path::describe::<T>(bytes, &e)))
    }
}

impl Decode for String {
    fn decode(bytes: Option<&Bytes>) -> Result<Self, DecodeError> {
        let bytes = bytes.ok_or_else(DecodeError::missing)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(DecodeError::invalid(format_args!(
                "not valid UTF-8 text (first invalid byte at index {}); use Vec<u8> or bytes::Bytes for binary data",
                e.valid_up_to()
            ))),
        }
    }
}

impl Decode for Vec<u8> {
    fn decode(bytes: Option<&Bytes>) -> Result<Self, DecodeError> {
        bytes.map(|b| b.to_vec()).ok_or_else(DecodeError::missing)
    }
}

impl Decode for Bytes {
    fn decode(bytes: Option<&Bytes>) -> Result<Self, DecodeError> {
        bytes.cloned().ok_or_else(DecodeError::missing)
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(bytes: Option<&Bytes>) -> Result<Self, DecodeError> {
        match bytes {
            None => Ok(None),
            Some(_) => T::decode(bytes).map(Some),
        }
    }
}

impl Decode for () {
    fn decode(_: Option<&Bytes>) -> Result<Self, DecodeError> {
        Ok(())
    }
}

/// Describes a serde_json error without quoting the payload.
///
/// serde's messages quote offending input (`invalid type: string "4111…", expected u64`); the
/// quoted part is cut so that card numbers and the like never reach logs or Lambda.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax | Category::Io => "not valid JSON".to_owned(),
        Category::Eof => "not valid JSON (it ends early)".to_owned(),
        Category::Data => {
            let full = e.to_string();
            let msg = full.rsplit_once(" at line ").map_or(full.as_str(), |(m, _)| m);
            format!("JSON of the wrong shape: {}", redact_unexpected(msg))
        }
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// `invalid type: string "secret", expected u32` → `invalid type: string, expected u32`;
/// `unknown variant `secret`, expected ...` → `unknown variant, expected ...`;
/// `unknown field `secret`, expected ...` → `unknown field, expected ...` (with
/// `deny_unknown_fields`: a key the struct does not declare is data).
pub(crate) fn redact_unexpected(msg: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            // The quoted input may itself hold ", expected ": serde's own is the last one.
            if let Some((unexpected, expected)) = rest.rsplit_once(", expected ") {
                let kind = unexpected.split([' ', '`', '"']).next().unwrap_or("");
                return format!("{prefix}{kind}, expected {expected}");
            }
        }
    }
    for prefix in ["unknown variant", "unknown field"] {
        if let Some(rest) = msg.strip_prefix(prefix).and_then(|rest| rest.strip_prefix(' ')) {
            if let Some((_, expected)) = rest.rsplit_once(", expected ") {
                return format!("{prefix}, expected {expected}");
            }
            // serde's message when nothing is accepted: "unknown field `x`, there are no fields".
            if let Some((_, none)) = rest.rsplit_once(", there are no ") {
                return format!("{prefix}, there are no {none}");
            }
        }
    }
    msg.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Card {
        number: u64,
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn json_errors_never_quote_the_payload() {
        let err = Json::<Card>::decode(Some(&b(r#"{"number":"4111111111111111"}"#))).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("4111"), "{text}");
        assert_eq!(
            text,
            "JSON of the wrong shape at `number`: invalid type: string, expected u64 (line 1 column 28)"
        );
        let err = Json::<Card>::decode(Some(&b("secret-token"))).unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
        assert_eq!(err, "not valid JSON: expected value (line 1 column 1)");
    }

    #[test]
    fn missing_fields_are_named() {
        let err = Json::<Card>::decode(Some(&b("{}"))).unwrap_err().to_string();
        assert_eq!(err, "JSON of the wrong shape: missing field `number` (line 1 column 2)");
    }

    #[test]
    fn absent_payloads() {
        assert!(Json::<Card>::decode(None).unwrap_err().is_missing());
        assert!(String::decode(None).unwrap_err().is_missing());
        assert!(Vec::<u8>::decode(None).unwrap_err().is_missing());
        assert!(Bytes::decode(None).unwrap_err().is_missing());
        assert_eq!(Option::<String>::decode(None).unwrap(), None);
        assert_eq!(<()>::decode(None), Ok(()));
        assert_eq!(<()>::decode(Some(&b("\u{0}\u{ff}"))), Ok(()));
    }

    #[test]
    fn text_and_bytes() {
        assert_eq!(String::decode(Some(&b("café"))).unwrap(), "café");
        let bad = Bytes::from_static(&[0x61, 0xff]);
        let err = String::decode(Some(&bad)).unwrap_err().to_string();
        assert!(err.contains("index 1"), "{err}");
        assert_eq!(Vec::<u8>::decode(Some(&bad)).unwrap(), vec![0x61, 0xff]);
        assert_eq!(Bytes::decode(Some(&bad)).unwrap(), bad);
        assert_eq!(Option::<String>::decode(Some(&b("x"))).unwrap(), Some("x".to_owned()));
        assert_eq!(Json::<Card>::decode(Some(&b(r#"{"number":7}"#))).unwrap().number, 7);
    }
}
