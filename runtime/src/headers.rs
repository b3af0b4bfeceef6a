//! Kafka record headers: one shared buffer per event, read by name or in order.

use std::fmt;

use bytes::Bytes;

/// A record's headers: name/value pairs in the order the producer wrote them, duplicates kept.
///
/// Lambda sends header values as arrays of signed (Java) bytes; they arrive here as plain bytes.
/// The headers of an event's records share one buffer (like [`Bytes`] slices), so reading them
/// costs no allocation per record.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Each header as `name length · value length · name · value`, the lengths LEB128
    /// varints (one byte below 128; see [`HeaderWriter`]).
    pub(crate) buf: Bytes,
    pub(crate) count: usize,
}

/// Appends headers to a buffer in the layout [`Headers`] reads.
pub(crate) struct HeaderWriter {
    /// Where the open header's value length goes: one byte, made room for there, which a
    /// value of 128 bytes or more widens.
    length_at: usize,
    value_start: usize,
}

impl HeaderWriter {
    /// Starts a header: writes its name; its value bytes are appended next.
    pub(crate) fn begin(buf: &mut Vec<u8>, name: &str) -> HeaderWriter {
        // The name's length, then a placeholder for the value's.
        if name.len() < 0x80 {
            buf.extend_from_slice(&[name.len() as u8, 0]);
        } else {
            put_varint(buf, name.len());
            buf.push(0);
        }
        let length_at = buf.len() - 1;
        buf.extend_from_slice(name.as_bytes());
        HeaderWriter { length_at, value_start: buf.len() }
    }

    /// Ends the header: everything appended since [`HeaderWriter::begin`] is its value.
    ///
    /// A value of 128 bytes or more is moved up to make room for its longer length, so a
    /// range of its bytes taken before this call no longer holds them.
    pub(crate) fn end(self, buf: &mut Vec<u8>) {
        let len = buf.len() - self.value_start;
        if len < 0x80 {
            buf[self.length_at] = len as u8;
        } else {
            widen_length(buf, self.length_at, len);
        }
    }
}

/// Writes the varint `len` at `at` in place of its one-byte placeholder.
#[cold]
fn widen_length(buf: &mut Vec<u8>, at: usize, len: usize) {
    let mut length = Vec::with_capacity(10);
    put_varint(&mut length, len);
    buf.splice(at..=at, length);
}

fn put_varint(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push(n as u8 | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

/// The varint at the start of `bytes` and its length in bytes (0 and 0 past the end, which a
/// buffer [`HeaderWriter`] wrote never has).
#[inline]
fn varint(bytes: &[u8]) -> (usize, usize) {
    if let Some(&b) = bytes.first().filter(|b| **b < 0x80) {
        return (usize::from(b), 1);
    }
    let mut n = 0usize;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        n |= usize::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return (n, i + 1);
        }
    }
    (0, bytes.len())
}

/// A header value that is not UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    name: String,
    valid_up_to: usize,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "header `{}` is not UTF-8 text (first invalid byte at index {}); read its bytes with Headers::first or Headers::last",
            self.name, self.valid_up_to
        )
    }
}

impl std::error::Error for HeaderError {}

impl Headers {
    /// The headers [`HeaderWriter`] wrote to `buf`, counted.
    pub(crate) fn from_buffer(buf: Bytes) -> Headers {
        let mut count = 0;
        let mut rest: &[u8] = &buf;
        while let [name_len, value_len, tail @ ..] = rest {
            count += 1;
            // Both lengths one byte, as nearly always.
            if (name_len | value_len) < 0x80 {
                rest = tail
                    .get(usize::from(*name_len) + usize::from(*value_len)..)
                    .unwrap_or_default();
                continue;
            }
            let (name_len, a) = varint(rest);
            let (value_len, b) = varint(&rest[a..]);
            rest = rest.get(a + b + name_len + value_len..).unwrap_or_default();
        }
        Headers { buf, count }
    }

    /// Builds headers from name/value pairs (mostly for tests).
    pub fn from_pairs<N: AsRef<str>, B: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (N, B)>,
    ) -> Self {
        let mut buf = Vec::new();
        let mut count = 0;
        for (name, value) in pairs {
            let header = HeaderWriter::begin(&mut buf, name.as_ref());
            buf.extend_from_slice(value.as_ref());
            header.end(&mut buf);
            count += 1;
        }
        Headers { buf: Bytes::from(buf), count }
    }

    /// The number of headers, duplicates counted.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the record has no headers.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Names as bytes (no UTF-8 check needed to compare them) and values.
    fn raw_iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> + '_ {
        let mut rest: &[u8] = &self.buf;
        (0..self.count).map(move |_| {
            let (name_len, a) = varint(rest);
            let (value_len, b) = varint(&rest[a..]);
            let (name, tail) = rest[a + b..].split_at(name_len.min(rest.len() - a - b));
            let (value, tail) = tail.split_at(value_len.min(tail.len()));
            rest = tail;
            (name, value)
        })
    }

    /// All headers in order as `(name, value bytes)`.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &[u8])> + '_ {
        // Names are written from `&str` only, so they are always valid UTF-8.
        self.raw_iter().map(|(name, value)| (std::str::from_utf8(name).unwrap_or_default(), value))
    }

    /// The value bytes of the first header called `name`.
    ///
    /// Kafka allows a name more than once. Java's `Headers.lastHeader` (and most Kafka clients'
    /// "get") return the *last*: use [`last`](Headers::last) for that meaning.
    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.raw_iter().find(|(n, _)| *n == name.as_bytes()).map(|(_, v)| v)
    }

    /// The value bytes of the last header called `name` (Java's `Headers.lastHeader`).
    pub fn last(&self, name: &str) -> Option<&[u8]> {
        self.raw_iter().filter(|(n, _)| *n == name.as_bytes()).last().map(|(_, v)| v)
    }

    /// The values of every header called `name`, in order (Java's `Headers.headers(key)`).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.raw_iter().filter(move |(n, _)| *n == name.as_bytes()).map(|(_, v)| v)
    }

    /// The first header called `name` as UTF-8 text: `Ok(None)` when there is none, an error
    /// naming the header when its value is not UTF-8 (use `?` in a handler to fail the record).
    pub fn first_text(&self, name: &str) -> Result<Option<&str>, HeaderError> {
        text(name, self.first(name))
    }

    /// The last header called `name` as UTF-8 text, as [`first_text`](Headers::first_text) says.
    pub fn last_text(&self, name: &str) -> Result<Option<&str>, HeaderError> {
        text(name, self.last(name))
    }
}

fn text<'a>(name: &str, value: Option<&'a [u8]>) -> Result<Option<&'a str>, HeaderError> {
    value
        .map(|bytes| {
            std::str::from_utf8(bytes)
                .map_err(|e| HeaderError { name: name.to_owned(), valid_up_to: e.valid_up_to() })
        })
        .transpose()
}

impl fmt::Debug for Headers {
    /// Header names and value sizes; values are redacted like record payloads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(name, value)| format!("{name}: <{} bytes>", value.len())))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_keep_order_and_duplicates() {
        let h = Headers::from_pairs([("a", &b"1"[..]), ("b", b""), ("a", b"2"), ("", b"x")]);
        assert_eq!(h.len(), 4);
        let all: Vec<_> = h.iter().collect();
        assert_eq!(all, vec![("a", &b"1"[..]), ("b", b""), ("a", b"2"), ("", b"x")]);
        assert_eq!(h.first("a"), Some(&b"1"[..]));
        assert_eq!(h.last("a"), Some(&b"2"[..]));
        assert_eq!(h.all("a").collect::<Vec<_>>(), vec![&b"1"[..], b"2"]);
        assert_eq!((h.first("zz"), h.last("zz")), (None, None));
        assert_eq!(h.first_text("b"), Ok(Some("")));
        assert_eq!((h.first_text("a"), h.last_text("a")), (Ok(Some("1")), Ok(Some("2"))));
        assert_eq!(h.first_text("zz"), Ok(None));
    }

    /// Lengths of one byte and of several, for names and values.
    #[test]
    fn long_names_and_values_keep_their_bytes() {
        let long: Vec<u8> = (0..20_000).map(|i| (i % 253) as u8).collect();
        let name = "n".repeat(300);
        let pairs = [
            (name.as_str(), &long[..127]),
            ("a", &long[..128]),
            (name.as_str(), &long[..]),
            ("", b""),
            ("b", &long[..16_384]),
        ];
        let h = Headers::from_pairs(pairs);
        assert_eq!(h.iter().collect::<Vec<_>>(), pairs.to_vec());
        // Counted again from the buffer alone, as the fast parser's headers are.
        assert_eq!(Headers::from_buffer(h.buf.clone()), h);
        assert_eq!(Headers::from_buffer(Bytes::new()).len(), 0);
    }

    #[test]
    fn header_text_errors_name_the_header() {
        let h = Headers::from_pairs([("bin", [0x66u8, 0xc3])]);
        let err = h.first_text("bin").unwrap_err().to_string();
        assert!(err.contains("`bin`") && err.contains("index 1"), "{err}");
        assert_eq!(format!("{h:?}"), r#"["bin: <2 bytes>"]"#);
    }
}
