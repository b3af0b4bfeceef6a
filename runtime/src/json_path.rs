//! Where in a `Json<T>` payload decoding failed: a path of field names and indexes, never data.
//!
//! serde_json says *what* is wrong and the line and column; on a 40 KB value, what an on-call
//! engineer needs is *which field*: `items[2].quantity`. A path is schema, not payload, as long as
//! it only holds names the type declares: struct field names (as renamed for JSON), enum variant
//! names and sequence indexes. Map keys are data (e-mail addresses, card numbers) and so are keys
//! a struct does not declare; both are written `[…]`.
//!
//! serde_path_to_error cannot tell the two apart (a struct field and a map key are both its
//! `Segment::Map`), so this module wraps the deserializer itself: `deserialize_struct` and
//! `deserialize_enum` hand over the declared names, and a key is kept only when it is one of
//! them (the kept string is the `&'static str` from the type's list, never the payload's bytes).
//!
//! The successful parse pays nothing for this: `Json::decode` parses without the wrapper and
//! only when that fails parses the same bytes again through it ([`describe`]). The second parse
//! is deterministic, so it fails at the same place; if it ever does not (a `Deserialize` impl that
//! behaves differently under a wrapper), the message simply has no path.
//!
//! Where serde buffers the input before deciding what it is (`#[serde(flatten)]`, untagged and
//! internally tagged enums), the wrapper cannot see inside the buffer: the path ends at the field
//! holding the buffered value, and a struct with a flattened field is read by serde as a map, so
//! its own keys are shown as `[…]` too.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde_json::error::Category;

/// Describes why `bytes` is not a JSON `T`, with the field path where there is one, the line and
/// column, and no payload: `JSON of the wrong shape at `items[2].quantity`: invalid type: string,
/// expected i64 (line 1 column 35)`.
///
/// `error` is what parsing `bytes` as `T` returned; `bytes` are parsed once more to find the path.
// Cold and out of line: the successful parse's code stays what it was without this.
#[cold]
#[inline(never)]
pub(crate) fn describe<T: DeserializeOwned>(bytes: &[u8], error: &serde_json::Error) -> String {
    let full = error.to_string();
    let reason = full.rsplit_once(" at line ").map_or(full.as_str(), |(reason, _)| reason);
    let (what, reason) = match error.classify() {
        // serde_json's syntax messages are fixed texts ("expected `,` or `]`", "EOF while parsing
        // a list"), never input.
        Category::Syntax | Category::Io | Category::Eof => ("not valid JSON", reason.to_owned()),
        Category::Data => ("JSON of the wrong shape", redact_unexpected(reason)),
    };
    let mut message = what.to_owned();
    if let Some(path) = error_path::<T>(bytes, error) {
        let _ = write!(message, " at `{path}`");
    }
    let _ = write!(message, ": {reason} (line {} column {})", error.line(), error.column());
    message
}

/// The path at which parsing `bytes` as `T` fails the way `error` says, or `None` when the failure
/// is at the top level (or the parse unexpectedly differs).
fn error_path<T: DeserializeOwned>(bytes: &[u8], error: &serde_json::Error) -> Option<String> {
    let track = Track::default();
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let tracked = Tracked { de: &mut json, chain: &Chain::Root, track: &track };
    let again = match T::deserialize(tracked) {
        Ok(_) => {
            // Only the trailing-characters check is left, and it is about the top level.
            track.path.borrow_mut().take();
            json.end().err()?
        }
        Err(e) => e,
    };
    let same = again.classify() == error.classify()
        && again.line() == error.line()
        && again.column() == error.column();
    if !same {
        return None;
    }
    track.path.into_inner().filter(|path| !path.is_empty())
}

/// The position being read, innermost last; it lives on the stack of the nested calls.
enum Chain<'a> {
    Root,
    /// A name the type declares: a struct field or an enum variant.
    Name(&'a Chain<'a>, &'static str),
    Index(&'a Chain<'a>, usize),
    /// A map key, or a key the struct does not declare: data, so not shown.
    Redacted(&'a Chain<'a>),
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Chain::Root => Ok(()),
            Chain::Name(Chain::Root, name) => f.write_str(name),
            Chain::Name(parent, name) => write!(f, "{parent}.{name}"),
            Chain::Index(parent, index) => write!(f, "{parent}[{index}]"),
            Chain::Redacted(parent) => write!(f, "{parent}[…]"),
        }
    }
}

/// The path of the innermost failing position: the first one an error passes on its way out.
#[derive(Default)]
struct Track {
    path: RefCell<Option<String>>,
}

impl Track {
    fn fail<E>(&self, chain: &Chain<'_>, error: E) -> E {
        let mut path = self.path.borrow_mut();
        if path.is_none() {
            *path = Some(chain.to_string());
        }
        error
    }
}

/// The declared names of the struct or enum being read: keys that are one of them are schema.
type Names = Option<&'static [&'static str]>;

/// A deserializer that reads at `chain` and records it when reading fails.
struct Tracked<'a, 'b, D> {
    de: D,
    chain: &'a Chain<'a>,
    track: &'b Track,
}

impl<'a, 'b, 'de, D: Deserializer<'de>> Tracked<'a, 'b, D> {
    /// Calls `call` with the wrapped deserializer and visitor, for values that have no declared
    /// names (all but structs and enums).
    fn forward<V, F>(self, visitor: V, call: F) -> Result<V::Value, D::Error>
    where
        V: Visitor<'de>,
        F: FnOnce(D, Wrap<'a, 'b, V>) -> Result<V::Value, D::Error>,
    {
        self.forward_named(None, visitor, call)
    }

    /// Like `forward`, for structs and enums: `names` are their fields or variants.
    fn forward_named<V, F>(self, names: Names, visitor: V, call: F) -> Result<V::Value, D::Error>
    where
        V: Visitor<'de>,
        F: FnOnce(D, Wrap<'a, 'b, V>) -> Result<V::Value, D::Error>,
    {
        let (chain, track) = (self.chain, self.track);
        call(self.de, Wrap { inner: visitor, chain, track, names })
            .map_err(|e| track.fail(chain, e))
    }
}

/// Forwards each `deserialize_*` method to the wrapped deserializer's same method, with the
/// visitor wrapped by `self.forward`.
macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            self.forward(visitor, |de, visitor| de.$method($($arg,)* visitor))
        }
    )*};
}

/// Every `deserialize_*` method except `deserialize_struct` and `deserialize_enum`.
macro_rules! forward_unnamed_deserialize {
    () => {
        forward_deserialize! {
            deserialize_any(); deserialize_bool(); deserialize_i8(); deserialize_i16();
            deserialize_i32(); deserialize_i64(); deserialize_i128(); deserialize_u8();
            deserialize_u16(); deserialize_u32(); deserialize_u64(); deserialize_u128();
            deserialize_f32(); deserialize_f64(); deserialize_char(); deserialize_str();
            deserialize_string(); deserialize_bytes(); deserialize_byte_buf();
            deserialize_option(); deserialize_unit(); deserialize_unit_struct(name: &'static str);
            deserialize_newtype_struct(name: &'static str); deserialize_seq();
            deserialize_tuple(len: usize); deserialize_tuple_struct(name: &'static str, len: usize);
            deserialize_map(); deserialize_identifier(); deserialize_ignored_any();
        }
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tracked<'_, '_, D> {
    type Error = D::Error;

    forward_unnamed_deserialize!();

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.forward_named(Some(fields), visitor, |de, v| de.deserialize_struct(name, fields, v))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.forward_named(Some(variants), visitor, |de, v| de.deserialize_enum(name, variants, v))
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// A visitor that carries the position into the sequences, maps, enums and options it is given.
struct Wrap<'a, 'b, V> {
    inner: V,
    chain: &'a Chain<'a>,
    track: &'b Track,
    names: Names,
}

/// Forwards each `visit_*` method that takes a plain value to the wrapped visitor's same method.
macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

/// Every `visit_*` method that takes a plain value, except the string ones.
macro_rules! forward_scalar_visits {
    () => {
        forward_visit! {
            visit_bool(bool); visit_i8(i8); visit_i16(i16); visit_i32(i32); visit_i64(i64);
            visit_i128(i128); visit_u8(u8); visit_u16(u16); visit_u32(u32); visit_u64(u64);
            visit_u128(u128); visit_f32(f32); visit_f64(f64); visit_char(char);
        }
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, '_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_scalar_visits!();
    forward_visit! {
        visit_str(&str); visit_borrowed_str(&'de str); visit_string(String);
        visit_bytes(&[u8]); visit_borrowed_bytes(&'de [u8]); visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Tracked { de, chain: self.chain, track: self.track })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Tracked { de, chain: self.chain, track: self.track })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(TrackedSeq { seq, chain: self.chain, track: self.track, index: 0 })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let (chain, track, names) = (self.chain, self.track, self.names);
        self.inner.visit_map(TrackedMap { map, chain, track, names, key: None })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let (chain, track, names) = (self.chain, self.track, self.names);
        self.inner.visit_enum(TrackedEnum { data, chain, track, names })
    }
}

/// A seed whose value is read at `chain`.
struct TrackedSeed<'a, 'b, S> {
    seed: S,
    chain: &'a Chain<'a>,
    track: &'b Track,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for TrackedSeed<'_, '_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        let (chain, track) = (self.chain, self.track);
        self.seed.deserialize(Tracked { de, chain, track }).map_err(|e| track.fail(chain, e))
    }
}

/// A sequence whose elements are read at `chain[index]`.
struct TrackedSeq<'a, 'b, A> {
    seq: A,
    chain: &'a Chain<'a>,
    track: &'b Track,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for TrackedSeq<'_, '_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let element = Chain::Index(self.chain, self.index);
        self.index += 1;
        let track = self.track;
        // An error between elements (a missing comma) is the sequence's: `element` has already
        // recorded the errors inside it.
        self.seq
            .next_element_seed(TrackedSeed { seed, chain: &element, track })
            .map_err(|e| track.fail(self.chain, e))
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// A map or struct whose values are read at `chain.<declared name>` or `chain[…]`.
struct TrackedMap<'a, 'b, A> {
    map: A,
    chain: &'a Chain<'a>,
    track: &'b Track,
    names: Names,
    /// The current entry's key, when it is one of `names`.
    key: Option<&'static str>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TrackedMap<'_, '_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.key = None;
        let key = match self.names {
            Some(names) => {
                self.map.next_key_seed(CaptureKey { seed, names, captured: &mut self.key })
            }
            None => self.map.next_key_seed(seed),
        };
        key.map_err(|e| self.track.fail(self.chain, e))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        let value = match self.key.take() {
            Some(name) => Chain::Name(self.chain, name),
            None => Chain::Redacted(self.chain),
        };
        let track = self.track;
        self.map
            .next_value_seed(TrackedSeed { seed, chain: &value, track })
            .map_err(|e| track.fail(&value, e))
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// An enum whose content is read at `chain.<variant>` when the variant is one of `names`.
struct TrackedEnum<'a, 'b, A> {
    data: A,
    chain: &'a Chain<'a>,
    track: &'b Track,
    names: Names,
}

impl<'a, 'b, 'de, A: EnumAccess<'de>> EnumAccess<'de> for TrackedEnum<'a, 'b, A> {
    type Error = A::Error;
    type Variant = TrackedVariant<'a, 'b, A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), A::Error> {
        let (chain, track) = (self.chain, self.track);
        let mut name = None;
        let read = match self.names {
            Some(names) => self.data.variant_seed(CaptureKey { seed, names, captured: &mut name }),
            None => self.data.variant_seed(seed),
        };
        let (value, variant) = read.map_err(|e| track.fail(chain, e))?;
        Ok((value, TrackedVariant { variant, parent: chain, name, track }))
    }
}

/// The content of an enum variant.
struct TrackedVariant<'a, 'b, A> {
    variant: A,
    parent: &'a Chain<'a>,
    name: Option<&'static str>,
    track: &'b Track,
}

impl<'a, A> TrackedVariant<'a, '_, A> {
    /// Where the variant's content is: at its name, when it is a declared one.
    fn chain(&self) -> Chain<'a> {
        match self.name {
            Some(name) => Chain::Name(self.parent, name),
            None => Chain::Redacted(self.parent),
        }
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for TrackedVariant<'_, '_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        let chain = self.chain();
        self.variant.unit_variant().map_err(|e| self.track.fail(&chain, e))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let chain = self.chain();
        let track = self.track;
        self.variant
            .newtype_variant_seed(TrackedSeed { seed, chain: &chain, track })
            .map_err(|e| track.fail(&chain, e))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let chain = self.chain();
        let track = self.track;
        let visitor = Wrap { inner: visitor, chain: &chain, track, names: None };
        self.variant.tuple_variant(len, visitor).map_err(|e| track.fail(&chain, e))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let chain = self.chain();
        let track = self.track;
        let visitor = Wrap { inner: visitor, chain: &chain, track, names: Some(fields) };
        self.variant.struct_variant(fields, visitor).map_err(|e| track.fail(&chain, e))
    }
}

/// A struct key or enum variant seed that notes which declared name the key is, if any.
struct CaptureKey<'c, S> {
    seed: S,
    names: &'static [&'static str],
    captured: &'c mut Option<&'static str>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for CaptureKey<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(KeyDeserializer { de, names: self.names, captured: self.captured })
    }
}

/// The deserializer of a key: reads exactly as the wrapped one does, noting a declared name.
struct KeyDeserializer<'c, D> {
    de: D,
    names: &'static [&'static str],
    captured: &'c mut Option<&'static str>,
}

impl<'c, 'de, D: Deserializer<'de>> KeyDeserializer<'c, D> {
    fn forward<V, F>(self, visitor: V, call: F) -> Result<V::Value, D::Error>
    where
        V: Visitor<'de>,
        F: FnOnce(D, KeyVisitor<'c, V>) -> Result<V::Value, D::Error>,
    {
        call(self.de, KeyVisitor { inner: visitor, names: self.names, captured: self.captured })
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for KeyDeserializer<'_, D> {
    type Error = D::Error;

    forward_unnamed_deserialize!();
    forward_deserialize! {
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// The visitor of a key: notes the key when it is one of the declared names, then passes it on.
struct KeyVisitor<'c, V> {
    inner: V,
    names: &'static [&'static str],
    captured: &'c mut Option<&'static str>,
}

impl<V> KeyVisitor<'_, V> {
    fn capture(&mut self, key: &[u8]) {
        *self.captured = self.names.iter().copied().find(|name| name.as_bytes() == key);
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for KeyVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_scalar_visits!();

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<V::Value, E> {
        self.capture(v.as_bytes());
        self.inner.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<V::Value, E> {
        self.capture(v.as_bytes());
        self.inner.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(mut self, v: String) -> Result<V::Value, E> {
        self.capture(v.as_bytes());
        self.inner.visit_string(v)
    }

    fn visit_bytes<E: de::Error>(mut self, v: &[u8]) -> Result<V::Value, E> {
        self.capture(v);
        self.inner.visit_bytes(v)
    }

    fn visit_borrowed_bytes<E: de::Error>(mut self, v: &'de [u8]) -> Result<V::Value, E> {
        self.capture(v);
        self.inner.visit_borrowed_bytes(v)
    }

    fn visit_byte_buf<E: de::Error>(mut self, v: Vec<u8>) -> Result<V::Value, E> {
        self.capture(&v);
        self.inner.visit_byte_buf(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(de)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(de)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(map)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(data)
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
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    /// The message for `json` read as a `T`, the way `Json<T>` builds it.
    fn message<T: DeserializeOwned + fmt::Debug>(json: &str) -> String {
        let error = serde_json::from_str::<T>(json).expect_err("the JSON should not fit the type");
        describe::<T>(json.as_bytes(), &error)
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Order {
        #[serde(rename = "orderId")]
        order_id: u64,
        customer: Customer,
        #[serde(default)]
        items: Vec<Item>,
        #[serde(default)]
        by_card: HashMap<String, Item>,
        #[serde(default)]
        note: Option<Note>,
        #[serde(default)]
        shape: Option<Shape>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Customer {
        address: Address,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Address {
        zip: u32,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        quantity: i64,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Note {
        text: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    enum Shape {
        Circle { radius: f64 },
        Square(f64),
        Point,
    }

    const HEAD: &str = r#"{"orderId":1,"customer":{"address":{"zip":1}}"#;

    #[test]
    fn nested_struct_fields_are_named() {
        let json = r#"{"orderId":1,"customer":{"address":{"zip":"x"}}}"#;
        assert_eq!(
            message::<Order>(json),
            "JSON of the wrong shape at `customer.address.zip`: invalid type: string, expected u32 (line 1 column 45)"
        );
    }

    #[test]
    fn renamed_fields_are_named_as_in_the_json() {
        assert_eq!(
            message::<Order>(r#"{"orderId":"x"}"#),
            "JSON of the wrong shape at `orderId`: invalid type: string, expected u64 (line 1 column 14)"
        );
    }

    #[test]
    fn sequence_elements_are_indexed() {
        let json =
            format!(r#"{HEAD},"items":[{{"quantity":1}},{{"quantity":2}},{{"quantity":"3"}}]}}"#);
        assert_eq!(
            message::<Order>(&json),
            "JSON of the wrong shape at `items[2].quantity`: invalid type: string, expected i64 (line 1 column 100)"
        );
        let top = message::<Vec<Item>>(r#"[{"quantity":1},{"quantity":true}]"#);
        assert!(
            top.starts_with("JSON of the wrong shape at `[1].quantity`: invalid type: boolean"),
            "{top}"
        );
    }

    #[test]
    fn map_keys_are_data_and_never_shown() {
        let json = format!(r#"{HEAD},"by_card":{{"4111111111111111":{{"quantity":"x"}}}}}}"#);
        let text = message::<Order>(&json);
        assert!(!text.contains("4111"), "{text}");
        assert_eq!(
            text,
            "JSON of the wrong shape at `by_card[…].quantity`: invalid type: string, expected i64 (line 1 column 91)"
        );
        // A map key that happens to equal a field name is still a map key.
        let text = message::<HashMap<String, Item>>(r#"{"quantity":{"quantity":"x"}}"#);
        assert!(text.starts_with("JSON of the wrong shape at `[…].quantity`:"), "{text}");
        // Untyped JSON is all map keys.
        let text = message::<serde_json::Value>(r#"{"alice@example.com":[1,]}"#);
        assert!(!text.contains("alice"), "{text}");
        assert_eq!(text, "not valid JSON at `[…]`: trailing comma (line 1 column 25)");
    }

    #[test]
    fn keys_a_struct_does_not_declare_are_data() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Strict {
            quantity: i64,
        }
        let text = message::<Strict>(r#"{"4111111111111111":1}"#);
        assert_eq!(
            text,
            "JSON of the wrong shape: unknown field, expected `quantity` (line 1 column 19)"
        );
        // An ignored key whose value is broken: the error is inside it, its name is not shown.
        let text = message::<Item>(r#"{"quantity":1,"4111111111111111":[1,}"#);
        assert!(!text.contains("4111"), "{text}");
        assert_eq!(text, "not valid JSON at `[…]`: expected value (line 1 column 37)");
    }

    #[test]
    fn enum_variants_are_named() {
        let json = format!(r#"{HEAD},"shape":{{"Circle":{{"radius":"x"}}}}}}"#);
        assert_eq!(
            message::<Order>(&json),
            "JSON of the wrong shape at `shape.Circle.radius`: invalid type: string, expected f64 (line 1 column 77)"
        );
        let json = format!(r#"{HEAD},"shape":{{"Square":[]}}}}"#);
        assert!(message::<Order>(&json).starts_with(
            "JSON of the wrong shape at `shape.Square`: invalid type: sequence, expected f64"
        ));
        // An unknown variant is data: neither the path nor the message shows it.
        let json = format!(r#"{HEAD},"shape":"4111111111111111"}}"#);
        let text = message::<Order>(&json);
        assert!(!text.contains("4111"), "{text}");
        assert_eq!(
            text,
            "JSON of the wrong shape at `shape`: unknown variant, expected one of `Circle`, `Square`, `Point` (line 1 column 72)"
        );
    }

    #[test]
    fn options_are_transparent() {
        let json = format!(r#"{HEAD},"note":{{"text":7}}}}"#);
        assert!(message::<Order>(&json).starts_with(
            "JSON of the wrong shape at `note.text`: invalid type: integer, expected a string"
        ));
    }

    #[test]
    fn missing_fields_are_named_at_their_struct() {
        let json = format!(r#"{HEAD},"items":[{{"quantity":1}},{{}}]}}"#);
        assert_eq!(
            message::<Order>(&json),
            "JSON of the wrong shape at `items[1]`: missing field `quantity` (line 1 column 72)"
        );
        assert_eq!(
            message::<Order>("{}"),
            "JSON of the wrong shape: missing field `orderId` (line 1 column 2)"
        );
    }

    #[test]
    fn syntax_errors_have_the_path_where_they_are() {
        let json = format!(r#"{HEAD},"items":[{{"quantity":1}},{{"quantity":1 "x"}}]}}"#);
        assert_eq!(
            message::<Order>(&json),
            "not valid JSON at `items[1]`: expected `,` or `}` (line 1 column 85)"
        );
        let json = format!(r#"{HEAD},"items":[{{"quantity":1}},{{"quantity":"#);
        assert_eq!(
            message::<Order>(&json),
            "not valid JSON at `items[1].quantity`: EOF while parsing a value (line 1 column 82)"
        );
    }

    #[test]
    fn input_that_looks_like_the_message_is_still_cut() {
        let text = message::<Order>(r#"{"orderId":"x, expected 4111111111111111"}"#);
        assert!(!text.contains("4111"), "{text}");
        assert!(
            text.starts_with(
                "JSON of the wrong shape at `orderId`: invalid type: string, expected u64 ("
            ),
            "{text}"
        );
    }

    #[test]
    fn a_second_parse_that_fails_elsewhere_gives_no_path() {
        let elsewhere = serde_json::from_str::<Item>("[").unwrap_err();
        assert_eq!(error_path::<Item>(br#"{"quantity":"x"}"#, &elsewhere), None);
        let same = serde_json::from_str::<Item>(r#"{"quantity":"x"}"#).unwrap_err();
        assert_eq!(error_path::<Item>(br#"{"quantity":"x"}"#, &same).as_deref(), Some("quantity"));
    }

    #[test]
    fn the_deepest_json_serde_reads_fits_a_worker_thread_stack() {
        // serde_json stops at 128 levels; the tracking parse adds frames per level. Test threads
        // have the 2 MiB stack that tokio's workers have too.
        let json = format!("{}x", "[".repeat(127));
        let text = message::<serde_json::Value>(&json);
        assert!(
            text.starts_with(&format!("not valid JSON at `{}`: expected value", "[0]".repeat(127))),
            "{text}"
        );
        let json = format!("{}x", "[".repeat(200));
        let text = message::<serde_json::Value>(&json);
        assert!(text.ends_with("[0]`: recursion limit exceeded (line 1 column 128)"), "{text}");
    }

    #[test]
    fn top_level_errors_have_no_path() {
        assert_eq!(
            message::<Order>(r#""4111111111111111""#),
            "JSON of the wrong shape: invalid type: string, expected struct Order (line 1 column 18)"
        );
        assert_eq!(message::<Order>("secret"), "not valid JSON: expected value (line 1 column 1)");
        assert_eq!(
            message::<Item>(r#"{"quantity":1} secret"#),
            "not valid JSON: trailing characters (line 1 column 16)"
        );
    }

    #[test]
    fn buffered_values_end_the_path_at_their_field() {
        // serde reads a struct with a flattened field as a map, and the flattened part and
        // untagged enums from a buffer: the path stops where the buffer begins, keys unshown.
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            line: Line,
            #[serde(default)]
            amount: Option<Amount>,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Line {
            sku: String,
            #[serde(flatten)]
            item: Item,
        }
        #[derive(Debug, Deserialize)]
        #[serde(untagged)]
        #[allow(dead_code)]
        enum Amount {
            Cents(u64),
            Text { currency: String, value: String },
        }
        assert_eq!(
            message::<Outer>(r#"{"line":{"sku":"a","quantity":"4111"}}"#),
            "JSON of the wrong shape at `line`: invalid type: string, expected i64 (line 1 column 37)"
        );
        assert_eq!(
            message::<Outer>(r#"{"line":{"sku":4111,"quantity":1}}"#),
            "JSON of the wrong shape at `line[…]`: invalid type: integer, expected a string (line 1 column 19)"
        );
        let text = message::<Outer>(r#"{"line":{"sku":"a","quantity":1},"amount":{"4111":1}}"#);
        assert!(!text.contains("4111"), "{text}");
        assert_eq!(
            text,
            "JSON of the wrong shape at `amount`: data did not match any variant of untagged enum Amount (line 1 column 53)"
        );
    }
}
