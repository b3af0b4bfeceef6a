//! A record's `headers`: `[{"name": [signed bytes]}, …]`, decoded as they are read.

use super::Parser;
use crate::event::wire::RawHeaders;
use crate::headers::HeaderWriter;

impl<'a> Parser<'a> {
    /// `[{"name": [signed bytes]}, …]` decoded as it is read; bytes out of range go to serde,
    /// which words the record's failure.
    pub(super) fn headers(&mut self) -> Option<RawHeaders<'a>> {
        if self.null() {
            return Some(RawHeaders::Absent);
        }
        // Taken out while it is written to; put back as it was if the headers are not plain.
        let mut buf = std::mem::take(&mut self.headers);
        let (start, at) = (buf.len(), self.at);
        let mut count = self.compact_header_list(&mut buf);
        if count.is_none() {
            // Not in the compact form: read again, whitespace and all.
            buf.truncate(start);
            self.at = at;
            count = self.header_list(&mut buf);
        }
        if count.is_none() {
            buf.truncate(start);
        }
        let end = buf.len();
        self.headers = buf;
        Some(RawHeaders::Decoded {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
            count: count?,
        })
    }

    /// `[{"name":[bytes]},…]` exactly as Lambda writes it (no whitespace, one header an
    /// object), written to `buf`; the number of headers. `None` for any other form.
    pub(super) fn compact_header_list(&mut self, buf: &mut Vec<u8>) -> Option<u32> {
        self.literal(b"[")?;
        if self.literal(b"]").is_some() {
            return Some(0);
        }
        let mut count = 0u32;
        loop {
            self.literal(b"{")?;
            let header = HeaderWriter::begin(buf, self.header_name()?);
            self.literal(b":[")?;
            if self.literal(b"]").is_none() {
                self.byte_array(buf)?;
            }
            header.end(buf);
            count += 1;
            self.literal(b"}")?;
            if self.literal(b"]").is_some() {
                return Some(count);
            }
            self.literal(b",")?;
        }
    }

    /// `[{"name": [bytes]}, …]`, written to `buf`; the number of headers.
    pub(super) fn header_list(&mut self, buf: &mut Vec<u8>) -> Option<u32> {
        let mut count = 0u32;
        self.expect(b'[')?;
        if self.eat(b']') {
            return Some(0);
        }
        loop {
            self.expect(b'{')?;
            if !self.eat(b'}') {
                loop {
                    let header = HeaderWriter::begin(buf, self.header_name()?);
                    self.expect(b':')?;
                    self.expect(b'[')?;
                    if !self.eat(b']') {
                        self.byte_array(buf)?;
                    }
                    header.end(buf);
                    count += 1;
                    if self.eat(b'}') {
                        break;
                    }
                    self.expect(b',')?;
                }
            }
            if self.eat(b']') {
                return Some(count);
            }
            self.expect(b',')?;
        }
    }

    /// A header name, compared with the names of earlier records before being read (and UTF-8
    /// checked) anew.
    pub(super) fn header_name(&mut self) -> Option<&'a str> {
        self.ws();
        for i in 0..self.header_names.len() {
            let name = self.header_names[i];
            if self.quoted(name) {
                return Some(name);
            }
        }
        let name = self.text()?;
        if self.header_names.len() < MAX_CACHED_NAMES {
            self.header_names.push(name);
        }
        Some(name)
    }
}

/// How many distinct header names [`Parser::header_name`] remembers.
const MAX_CACHED_NAMES: usize = 8;
