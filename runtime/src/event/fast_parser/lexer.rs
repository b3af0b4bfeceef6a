//! The tokens of JSON, read from `Parser::json` at `Parser::at`: whitespace, punctuation,
//! literals, strings, integers, signed byte lists, and any value skipped. All the bounds
//! reasoning of the fast parser is here: the grammar files (`envelope`, `record`, `headers`)
//! call these and never index the input themselves.

use std::borrow::Cow;

use super::{Parser, MAX_DEPTH};
use crate::event::wire::Base64;
use crate::swar;

impl<'a> Parser<'a> {
    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.json.get(self.at) {
            self.at += 1;
        }
    }

    pub(super) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.json.get(self.at).copied()
    }

    pub(super) fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.at += usize::from(hit);
        hit
    }

    /// Consumes `byte` if it comes next: looked for right here first (Lambda writes no
    /// whitespace), and past whitespace only then.
    #[inline(always)]
    pub(super) fn eat_next(&mut self, byte: u8) -> bool {
        if self.json.get(self.at) == Some(&byte) {
            self.at += 1;
            return true;
        }
        self.eat(byte)
    }

    /// [`Parser::eat_next`], or `None`.
    #[inline(always)]
    pub(super) fn expect_next(&mut self, byte: u8) -> Option<()> {
        self.eat_next(byte).then_some(())
    }

    pub(super) fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    pub(super) fn null(&mut self) -> bool {
        self.ws();
        let hit = self.json[self.at..].starts_with(b"null");
        self.at += if hit { 4 } else { 0 };
        hit
    }

    /// Consumes what `matcher` finds at the start of the rest of the input (it returns the
    /// length, at most the rest's).
    #[inline(always)]
    pub(super) fn consume(&mut self, matcher: impl FnOnce(&[u8]) -> Option<usize>) -> bool {
        match matcher(&self.json[self.at..]) {
            Some(len) => {
                self.at += len;
                true
            }
            None => false,
        }
    }

    /// Consumes `literal` if the input continues with it.
    #[inline(always)]
    pub(super) fn literal(&mut self, literal: &'static [u8]) -> Option<()> {
        let hit = self.json[self.at..].starts_with(literal);
        self.at += if hit { literal.len() } else { 0 };
        hit.then_some(())
    }

    /// The bytes of a string without escapes or control characters (base64 payloads, which
    /// may hold control characters for the decoder to reject, are read by [`Parser::base64`]).
    pub(super) fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        let rest = &self.json[start..];
        let len = string_end(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        Some(&rest[..len])
    }

    /// A UTF-8 string without escapes or control characters.
    pub(super) fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_string()?).ok()
    }

    /// Consumes `"<text>"` if the input continues with it (a string already read and checked).
    pub(super) fn quoted(&mut self, text: &str) -> bool {
        let rest = &self.json[self.at..];
        let len = text.len();
        let hit = rest.len() > len + 1
            && rest[0] == b'"'
            && rest[len + 1] == b'"'
            && &rest[1..=len] == text.as_bytes();
        self.at += if hit { len + 2 } else { 0 };
        hit
    }

    pub(super) fn base64(&mut self) -> Option<Option<Base64<'a>>> {
        if self.null() {
            return Some(None);
        }
        self.expect(b'"')?;
        // Base64 payloads are long and plain: a SIMD search for the closing quote (or an escape,
        // which sends the event to serde). Control characters are left to the base64 decoder.
        let rest = &self.json[self.at..];
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at += len + 1;
        Some(Some(Base64(Cow::Borrowed(&rest[..len]))))
    }

    /// An integer: no fraction, no exponent, no leading zeros; `None` outside `i64`.
    pub(super) fn integer(&mut self) -> Option<i64> {
        self.ws();
        let rest = &self.json[self.at..];
        let negative = rest.first() == Some(&b'-');
        let digits = &rest[usize::from(negative)..];
        let (mut n, mut magnitude) = match swar::digit_run(digits) {
            Some(run) => run,
            None => {
                // Up to 18 digits cannot overflow a u64: one pass, no checks.
                let (mut n, mut magnitude) = (0, 0u64);
                while n < 18 {
                    match digits.get(n) {
                        Some(&d @ b'0'..=b'9') => {
                            magnitude = magnitude * 10 + u64::from(d - b'0');
                        }
                        _ => break,
                    }
                    n += 1;
                }
                (n, magnitude)
            }
        };
        if n == 18 && digits.get(18).is_some_and(u8::is_ascii_digit) {
            // Longer: checked as it grows (2^63, i64::MIN's magnitude, still fits).
            n = digits.iter().take_while(|d| d.is_ascii_digit()).count();
            magnitude = digits[..n]
                .iter()
                .try_fold(0u64, |m, &d| m.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
        }
        // serde_json reads `-0` as a float, which an integer field rejects.
        if n == 0
            || (digits[0] == b'0' && (n > 1 || negative))
            || matches!(digits.get(n), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let value = if negative {
            0i64.checked_sub_unsigned(magnitude)?
        } else {
            i64::try_from(magnitude).ok()?
        };
        self.at += usize::from(negative) + n;
        Some(value)
    }

    /// The rest of a non-empty array of signed bytes (after its `[`), appended to `out`: the
    /// hot loop of header decoding. Each number is matched as a slice pattern and the byte after
    /// it must be `,` or `]`, Lambda's compact form; whitespace, tried only when that fails,
    /// is skipped. A longer number, a leading zero, a fraction or an exponent leaves something
    /// else after the digits, and the array to serde.
    pub(super) fn byte_array(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let json = self.json;
        let mut at = self.at;
        // Lambda's compact form first: a number and the `,` or `]` after it read from five bytes
        // at once, the bytes gathered in registers-sized batches (no `Vec` bookkeeping per byte).
        // Anything else (whitespace, a leading zero, a fourth digit, a byte out of range, the
        // end of the input near) leaves the rest, from that number on, to the loop below.
        let mut batch = [0u8; 16];
        let mut len = 0;
        while let Some(w) = json.get(at..at + 5).and_then(|w| <&[u8; 5]>::try_from(w).ok()) {
            let (byte, consumed, separator) = if w[0] != b'-' {
                match compact_number([w[0], w[1], w[2], w[3]]) {
                    Some((magnitude @ 0..=127, digits, separator)) => {
                        (magnitude as u8, digits + 1, separator)
                    }
                    _ => break,
                }
            } else {
                // `-0` is a float to serde_json.
                match compact_number([w[1], w[2], w[3], w[4]]) {
                    Some((magnitude @ 1..=128, digits, separator)) => {
                        (magnitude.wrapping_neg() as u8, digits + 2, separator)
                    }
                    _ => break,
                }
            };
            if separator != b',' && separator != b']' {
                break;
            }
            if len == batch.len() {
                out.extend_from_slice(&batch);
                len = 0;
            }
            batch[len] = byte;
            len += 1;
            at += consumed;
            if separator == b']' {
                out.extend_from_slice(&batch[..len]);
                self.at = at;
                return Some(());
            }
        }
        out.extend_from_slice(&batch[..len]);
        let digit = |d: u8| u32::from(d - b'0');
        let skip_ws = |mut at: usize| {
            while let Some(b' ' | b'\n' | b'\r' | b'\t') = json.get(at) {
                at += 1;
            }
            at
        };
        loop {
            let rest = json.get(at..)?;
            let (negative, digits) = match rest {
                [b'-', tail @ ..] => (true, tail),
                _ => (false, rest),
            };
            // -?(0|[1-9][0-9]{0,2})
            let (magnitude, len) = match *digits {
                [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
                    (digit(a) * 100 + digit(b) * 10 + digit(c), 3)
                }
                [a @ b'1'..=b'9', b @ b'0'..=b'9', ..] => (digit(a) * 10 + digit(b), 2),
                [a @ b'0'..=b'9', ..] => (digit(a), 1),
                // Whitespace before the number: skipped, then the number read (`- 1` is not one).
                [b' ' | b'\n' | b'\r' | b'\t', ..] if !negative => {
                    at = skip_ws(at);
                    if !matches!(json.get(at), Some(b'-' | b'0'..=b'9')) {
                        return None;
                    }
                    continue;
                }
                _ => return None,
            };
            // `-0` is a float to serde_json, not a byte.
            if negative && magnitude == 0 {
                return None;
            }
            let signed = if negative { -(magnitude as i32) } else { magnitude as i32 };
            let byte = i8::try_from(signed).ok()? as u8;
            at += usize::from(negative) + len;
            let mut after = json.get(at).copied();
            if let Some(b' ' | b'\n' | b'\r' | b'\t') = after {
                at = skip_ws(at);
                after = json.get(at).copied();
            }
            at += 1;
            match after {
                Some(b',') => out.push(byte),
                Some(b']') => {
                    out.push(byte);
                    self.at = at;
                    return Some(());
                }
                // More digits, a fraction, an exponent or anything else: serde decides.
                _ => return None,
            }
        }
    }

    /// Skips any JSON value, checking it as serde_json's `IgnoredAny` would.
    pub(super) fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.raw_string().map(drop),
            b'{' => {
                self.at += 1;
                if self.eat(b'}') {
                    return Some(());
                }
                loop {
                    self.text()?;
                    self.expect(b':')?;
                    self.skip(depth + 1)?;
                    if self.eat(b'}') {
                        return Some(());
                    }
                    self.expect(b',')?;
                }
            }
            b'[' => {
                self.at += 1;
                if self.eat(b']') {
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if self.eat(b']') {
                        return Some(());
                    }
                    self.expect(b',')?;
                }
            }
            b't' | b'f' | b'n' => {
                let rest = &self.json[self.at..];
                let len =
                    [&b"true"[..], b"false", b"null"].iter().find(|l| rest.starts_with(l))?.len();
                self.at += len;
                Some(())
            }
            _ => self.number(),
        }
    }

    /// Any JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    pub(super) fn number(&mut self) -> Option<()> {
        let digits = |p: &mut Self| {
            let n = p.json[p.at..].iter().take_while(|b| b.is_ascii_digit()).count();
            p.at += n;
            n
        };
        self.at += usize::from(self.json.get(self.at) == Some(&b'-'));
        let first = self.json.get(self.at).copied();
        let n = digits(self);
        if n == 0 || (n > 1 && first == Some(b'0')) {
            return None;
        }
        if self.json.get(self.at) == Some(&b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.json.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.json.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        // Any exponent is fine, however large: `IgnoredAny` (what serde reads skipped values
        // into) checks the syntax and never evaluates the number, so serde accepts it too.
        Some(())
    }

    /// Walks an object's members: `member` is called with each key's bytes (a key that is
    /// matched against known names needs no UTF-8 check; others are checked by [`Self::other`]).
    pub(super) fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.raw_string()?;
            self.expect(b':')?;
            member(self, key)?;
            if self.eat(b'}') {
                return Some(());
            }
            self.expect(b',')?;
        }
    }

    /// An unknown member: its key must still be UTF-8 (serde reads keys as text); its value is
    /// skipped.
    pub(super) fn other(&mut self, key: &[u8], depth: u32) -> Option<()> {
        std::str::from_utf8(key).ok()?;
        self.skip(depth)
    }
}

/// A number of one to three digits without a leading zero at the start of `d`: its value, its
/// digit count and the byte after it (`None` for anything else). Without a branch on the digit
/// count: header bytes mix two- and three-digit numbers at random (a trace id's hex digits are
/// 48–57 and 97–102), which a branch per count would mispredict about a third of the time.
#[inline(always)]
fn compact_number(d: [u8; 4]) -> Option<(u32, usize, u8)> {
    let x = u32::from_le_bytes(d) ^ 0x3030_3030;
    // The high bit of each byte that is not a digit (as in `swar::leading_digits`).
    let not_digits = (x.wrapping_add(0x7676_7676) | x) & 0x8080_8080;
    let n = (not_digits.trailing_zeros() / 8) as usize;
    if n == 0 || n == 4 || (n > 1 && d[0] == b'0') {
        return None;
    }
    // The digits moved to the top of the word, zeros before them (`[0, a, b, c]` for three);
    // then byte 0 is `10·b0 + b1` and byte 2 is `10·b2 + b3` (no byte carries: at most 99).
    let aligned = x << (8 * (4 - n));
    let pairs = aligned.wrapping_mul(10).wrapping_add(aligned >> 8);
    Some(((pairs & 0xff) * 100 + ((pairs >> 16) & 0xff), n, d[n]))
}

/// Where a string's content ends: the first `"`, `\\` or control character (eight bytes at a
/// time), if there is one.
pub(super) fn string_end(haystack: &[u8]) -> Option<usize> {
    let end = swar::string_stop(haystack, 0);
    (end < haystack.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every four bytes over the characters that matter, against the rule written out.
    #[test]
    fn compact_numbers() {
        fn rule(d: [u8; 4]) -> Option<(u32, usize, u8)> {
            let n = d.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 || n == 4 || (n > 1 && d[0] == b'0') {
                return None;
            }
            let value = d[..n].iter().fold(0, |v, &b| v * 10 + u32::from(b - b'0'));
            Some((value, n, d[n]))
        }
        let alphabet = b"0123456789,]- .eE/:\x00\x80\x8a\xb0\xb9\xff";
        for &a in alphabet {
            for &b in alphabet {
                for &c in alphabet {
                    for &e in alphabet {
                        let d = [a, b, c, e];
                        assert_eq!(compact_number(d), rule(d), "{d:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn string_ends() {
        let text = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\"rest";
        assert_eq!(string_end(text), Some(36));
        assert_eq!(string_end(b"ab\\c\""), Some(2));
        assert_eq!(string_end(b"abcdefghijklmnop"), None);
        assert_eq!(string_end(b""), None);
        assert_eq!(string_end("caf\u{e9} \u{1F600} more text\"".as_bytes()), Some(20));
        assert_eq!(string_end(b"abcdefgh\tij\""), Some(8));
        assert_eq!(string_end(b"\x7f\x00\""), Some(1));
        // Every position of a stop byte.
        for len in 0..20 {
            for at in 0..len {
                for stop in [b'"', b'\\', 0x01] {
                    let mut text = vec![b'a'; len];
                    text[at] = stop;
                    assert_eq!(string_end(&text), Some(at));
                }
            }
        }
    }
}
