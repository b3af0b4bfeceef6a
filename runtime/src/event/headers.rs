//! Decoding a record's `headers` JSON on the general path, when the record is about to run.

use std::fmt;

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::event::wire::{RawHeaders, Text};
use crate::headers::{HeaderWriter, Headers};
use crate::json_path::json_error;

/// Decodes a record's `headers` JSON: `[{"name": [signed bytes]}, …]`.
///
/// Runs when the record is about to run. Events in the plain form are parsed by `fast.rs`,
/// which decodes headers as it reads them; this is the path for the others (escapes in names,
/// odd numbers, wrong types, bytes out of range), through serde for exact handling and a
/// precise reason. An error fails only the record.
pub(crate) fn decode_headers(raw: RawHeaders<'_>, decoded: &Bytes) -> Result<Headers, String> {
    let raw = match raw {
        RawHeaders::Decoded { start, end } => {
            return Ok(Headers::from_buffer(decoded.slice(start as usize..end as usize)));
        }
        RawHeaders::Json(raw) => raw,
    };
    match serde_json::from_str::<HeaderList>(raw.get()) {
        Ok(HeaderList { problem: Some(problem), .. }) => Err(problem),
        Ok(list) => Ok(Headers { buf: Bytes::from(list.buf), count: list.count }),
        Err(e) => Err(format!(
            "the headers are not a list of {{\"name\": [signed bytes]}} objects: {}",
            json_error(&e)
        )),
    }
}

/// Headers decoded by serde (the slow path), or the reason they could not be.
#[derive(Debug, Default)]
pub(crate) struct HeaderList {
    /// In the layout [`Headers`] reads.
    pub buf: Vec<u8>,
    pub count: usize,
    pub problem: Option<String>,
}

impl<'de> Deserialize<'de> for HeaderList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_option(HeaderListVisitor)
    }
}

struct HeaderListVisitor;

impl<'de> Visitor<'de> for HeaderListVisitor {
    type Value = HeaderList;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of {\"name\": [signed bytes]} objects")
    }
    fn visit_none<E: de::Error>(self) -> Result<HeaderList, E> {
        Ok(HeaderList::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<HeaderList, E> {
        Ok(HeaderList::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<HeaderList, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeaderList, A::Error> {
        let mut list = HeaderList::default();
        while seq.next_element_seed(HeaderObject(&mut list))?.is_some() {}
        Ok(list)
    }
}

/// One `{"name": [bytes]}` object, appended to the list.
struct HeaderObject<'l>(&'l mut HeaderList);

impl<'de> DeserializeSeed<'de> for HeaderObject<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderObject<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a {\"name\": [signed bytes]} object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<Text<'de>>()? {
            let header = HeaderWriter::begin(&mut self.0.buf, &name);
            map.next_value_seed(ByteArray { list: self.0, name: &name })?;
            header.end(&mut self.0.buf);
            self.0.count += 1;
        }
        Ok(())
    }
}

/// An array of Java (signed) bytes, appended to the header buffer.
struct ByteArray<'l, 'n> {
    list: &'l mut HeaderList,
    name: &'n str,
}

impl<'de> DeserializeSeed<'de> for ByteArray<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ByteArray<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of signed bytes (-128..127)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        while let Some(n) = seq.next_element::<i64>()? {
            match i8::try_from(n) {
                Ok(byte) => self.list.buf.push(byte as u8),
                Err(_) => {
                    if self.list.problem.is_none() {
                        self.list.problem = Some(format!(
                            "header `{}` has byte {n} at index {index}, outside the signed byte range -128..127",
                            self.name
                        ));
                    }
                }
            }
            index += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    fn headers(json: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
        let raw = RawValue::from_string(json.to_owned()).unwrap();
        let decoded = decode_headers(RawHeaders::Json(&raw), &Bytes::new())?;
        Ok(decoded.iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect())
    }

    fn h(name: &str, value: &[u8]) -> (String, Vec<u8>) {
        (name.to_owned(), value.to_vec())
    }

    #[test]
    fn header_forms() {
        assert_eq!(headers("[]"), Ok(vec![]));
        assert_eq!(headers(" [ ] "), Ok(vec![]));
        assert_eq!(headers("[{}]"), Ok(vec![]));
        assert_eq!(
            headers(r#"[{"a":[-128,127,0,-1]},{"a":[]},{"b" : [ 1 , 2 ] , "c":[3]}]"#),
            Ok(vec![h("a", &[0x80, 0x7f, 0, 0xff]), h("a", b""), h("b", &[1, 2]), h("c", &[3])])
        );
        assert_eq!(headers(r#"[{"q\"x\u00e9":[0]}]"#), Ok(vec![h("q\"xé", &[0])]));
    }

    #[test]
    fn bad_headers_are_a_record_problem() {
        assert_eq!(
            headers(r#"[{"ok":[1]},{"bad":[1,2,200]}]"#),
            Err("header `bad` has byte 200 at index 2, outside the signed byte range -128..127"
                .into())
        );
        assert_eq!(
            headers(r#"[{"bad":[-129]}]"#),
            Err("header `bad` has byte -129 at index 0, outside the signed byte range -128..127"
                .into())
        );
        let wrong = headers(r#""secret""#).unwrap_err();
        assert_eq!(wrong, "the headers are not a list of {\"name\": [signed bytes]} objects: JSON of the wrong shape: invalid type: string, expected a list of {\"name\": [signed bytes]} objects at line 1 column 8");
        assert!(headers(r#"[{"a":[1.5]}]"#)
            .unwrap_err()
            .contains("invalid type: floating, expected i64"));
        assert!(headers(r#"[{"a":"x"}]"#).is_err());
    }
}
