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
        let start = buf.len();
        let count = self.header_list(&mut buf);
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

    /// `[{"name": [bytes]}, …]`, written to `buf`; the number of headers. Each token is looked
    /// for right where it is first (Lambda writes no whitespace), past whitespace only then.
    pub(super) fn header_list(&mut self, buf: &mut Vec<u8>) -> Option<u32> {
        let mut count = 0u32;
        self.expect_next(b'[')?;
        if self.eat_next(b']') {
            return Some(0);
        }
        loop {
            self.expect_next(b'{')?;
            if !self.eat_next(b'}') {
                loop {
                    let header = HeaderWriter::begin(buf, self.header_name()?);
                    self.expect_next(b':')?;
                    self.expect_next(b'[')?;
                    if !self.eat_next(b']') {
                        self.byte_array(buf)?;
                    }
                    header.end(buf);
                    count += 1;
                    if self.eat_next(b'}') {
                        break;
                    }
                    self.expect_next(b',')?;
                }
            }
            if self.eat_next(b']') {
                return Some(count);
            }
            self.expect_next(b',')?;
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
