//! Protobuf keys and values (the `protobuf` feature): [`Protobuf<M>`] for any prost message.

use std::ops::{Deref, DerefMut};

use bytes::Bytes;

use crate::decode::{Decode, DecodeContext, DecodeError};
use crate::schema::framing::{MessageIndexes, Sniff};

/// A Protobuf key or value decoded into the prost message `M`, plain or written through a
/// schema registry.
///
/// Registry framing is taken off first: Confluent (`0x00` + id or `0x01` + GUID, or the id in a
/// `__key_schema_id` / `__value_schema_id` header) and AWS Glue (`0x03` …, zlib inflated), or
/// none when Lambda's schema-registry integration already removed it (schema metadata on the
/// record). The message indexes that follow are then read — Confluent's zigzag varint count and
/// path (`0x00` for `[0]`), Glue's one unsigned varint — and kept in
/// [`Protobuf::message_indexes`]. Protobuf data never starts with a registry magic byte (a
/// field tag is at least `0x08`; `0xC3 0x01`, the tag of a group at field 24, is not taken for
/// Avro's single-object marker here), so an unframed message cannot be misread as framed.
///
/// The message indexes name which message of the writer's schema file the data is; `M` is
/// taken to be that message (prost messages carry no descriptor to check it against).
#[derive(Debug, Clone, PartialEq)]
pub struct Protobuf<M> {
    message: M,
    indexes: MessageIndexes,
}

impl<M> Protobuf<M> {
    /// Takes the message out.
    pub fn into_inner(self) -> M {
        self.message
    }

    /// The message indexes the data carried ([`MessageIndexes::None`] for bare data).
    pub fn message_indexes(&self) -> &MessageIndexes {
        &self.indexes
    }
}

impl<M> Deref for Protobuf<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.message
    }
}

impl<M> DerefMut for Protobuf<M> {
    fn deref_mut(&mut self) -> &mut M {
        &mut self.message
    }
}

impl<M: prost::Message + Default> Decode for Protobuf<M> {
    fn decode(bytes: Option<&Bytes>, cx: &DecodeContext<'_>) -> Result<Self, DecodeError> {
        let bytes = bytes.ok_or_else(DecodeError::missing)?;
        let unframed = cx.unframe(bytes, Sniff::Safe).map_err(DecodeError::invalid)?;
        let (indexes, data) = unframed.protobuf_message().map_err(DecodeError::invalid)?;
        let message = M::decode(data).map_err(|e| {
            DecodeError::invalid(format_args!(
                "not a valid `{}` Protobuf message{}: {e}",
                crate::record_decode::short_type_name::<M>(),
                unframed.schema.map(|s| format!(" (written with {s})")).unwrap_or_default()
            ))
        })?;
        Ok(Protobuf { message, indexes })
    }
}
