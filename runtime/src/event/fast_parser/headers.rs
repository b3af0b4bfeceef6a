//! A record's `headers`: `[{"name": [signed bytes]}, …]`, decoded as they are read.

use super::{HeaderValue, Parser};
use crate::event::wire::RawHeaders;
use crate::headers::HeaderWriter;

impl<'a> Parser<'a> {
    /// `[{"name": [signed bytes]}, …]` decoded as it is read; bytes out of range go to serde,
    /// which words the record's failure.
    pub(super) fn headers(&mut self) -> Option<RawHeaders<'a>> {
        if self.null() {
            return Some(RawHeaders::default());
        }
        // Taken out while it is written to; put back as it was if the headers are not plain.
        let mut buf = std::mem::take(&mut self.headers);
        let start = buf.len();
        let read = self.header_list(&mut buf);
        if read.is_none() {
            buf.truncate(start);
            // Values remembered from this list would point past the end.
            self.header_values.clear();
        }
        let end = buf.len();
        self.headers = buf;
        read?;
        Some(RawHeaders::Decoded {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    }

    /// `[{"name": [bytes]}, …]`, written to `buf`. Each token is looked for right where it is
    /// first (Lambda writes no whitespace), past whitespace only then.
    pub(super) fn header_list(&mut self, buf: &mut Vec<u8>) -> Option<()> {
        self.expect_next(b'[')?;
        if self.eat_next(b']') {
            return Some(());
        }
        loop {
            self.expect_next(b'{')?;
            if !self.eat_next(b'}') {
                loop {
                    let (name, slot) = self.header_name()?;
                    let header = HeaderWriter::begin(buf, name);
                    self.expect_next(b':')?;
                    self.header_value(buf, slot)?;
                    header.end(buf);
                    if self.eat_next(b'}') {
                        break;
                    }
                    self.expect_next(b',')?;
                }
            }
            if self.eat_next(b']') {
                return Some(());
            }
            self.expect_next(b',')?;
        }
    }

    /// A header name, compared with the names of earlier records before being read (and UTF-8
    /// checked) anew; with the index under which it is remembered, if it is.
    pub(super) fn header_name(&mut self) -> Option<(&'a str, Option<usize>)> {
        self.ws();
        for i in 0..self.header_names.len() {
            let name = self.header_names[i];
            if self.quoted(name) {
                return Some((name, Some(i)));
            }
        }
        let name = self.text()?;
        if self.header_names.len() < MAX_CACHED_NAMES {
            self.header_names.push(name);
            return Some((name, Some(self.header_names.len() - 1)));
        }
        Some((name, None))
    }

    /// A header's value, `[signed bytes]`, appended to `buf`. When it is, byte for byte, the
    /// JSON of the value last read for the same (remembered) name, its decoded bytes are copied
    /// instead of being read again.
    fn header_value(&mut self, buf: &mut Vec<u8>, slot: Option<usize>) -> Option<()> {
        self.ws();
        let start = self.at;
        if let Some(Some(last)) = slot.and_then(|i| self.header_values.get(i)) {
            if self.json[start..].starts_with(last.json) {
                self.at += last.json.len();
                buf.extend_from_within(last.start..last.end);
                return Some(());
            }
        }
        let decoded = buf.len();
        self.expect_next(b'[')?;
        if !self.eat_next(b']') {
            self.byte_array(buf)?;
        }
        // A value of 128 bytes or more is moved when its header ends (see `HeaderWriter::end`):
        // only shorter ones are remembered.
        if let Some(i) = slot.filter(|_| buf.len() - decoded < 0x80) {
            let value =
                HeaderValue { json: &self.json[start..self.at], start: decoded, end: buf.len() };
            if self.header_values.len() <= i {
                self.header_values.resize(i + 1, None);
            }
            self.header_values[i] = Some(value);
        }
        Some(())
    }
}

/// How many distinct header names [`Parser::header_name`] remembers.
pub(super) const MAX_CACHED_NAMES: usize = 8;
