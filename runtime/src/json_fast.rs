//! The fast path of [`Json<T>`](crate::Json): a serde `Deserializer` over JSON text that, for every
//! document it accepts, makes exactly the visitor calls `serde_json::from_slice` makes, and so
//! builds the same `T`.
//!
//! It is quicker than serde_json mainly where `T` ignores things: members `T` does not declare
//! are skipped eight bytes at a time, without the bookkeeping serde_json does for every byte. It
//! reads only the plain forms; everything else it either hands to serde_json token by token
//! (strings with escapes, numbers that are not small integers: the same code, so the same
//! value) or declines. A decline, any error (its own or the visitor's) and any syntax error
//! make [`from_slice`] return `None`, and `Json<T>` then parses the document with serde_json,
//! which decides and words every error: this reader never has to be right about an error,
//! only never to accept what serde_json would read differently. `tests/tests/fuzz_smoke.rs`
//! and the unit tests below compare the two.

use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, Visitor};
use serde::Deserialize;

use crate::swar;

/// Reads `input` into `T` as `serde_json::from_slice` would, or `None` where it declines (see
/// the module documentation): the caller then asks serde_json.
pub(crate) fn from_slice<'de, T: Deserialize<'de>>(input: &'de [u8]) -> Option<T> {
    // One check of the whole document for UTF-8 (word at a time) is quicker than one per
    // string, and lets every string be cut from the text. A document that is not UTF-8 is
    // declined (serde_json's `from_slice` accepts invalid UTF-8 in strings it skips).
    let text = simdutf8::basic::from_utf8(input).ok()?;
    let mut reader = Reader { text, input, at: 0, depth: 0, failed: false, scratch: String::new() };
    let value = T::deserialize(&mut reader).ok()?;
    // An error anywhere, even one a `Deserialize` impl recovered from, sends the document to
    // serde_json: after an error the two readers need not be at the same place.
    if reader.failed || reader.peek_ws().is_some() {
        return None;
    }
    Some(value)
}

/// Nesting deeper than this is declined (serde_json allows 127 levels, and skips ignored values
/// at any depth).
const MAX_DEPTH: u32 = 100;

/// The name serde_json gives `RawValue`'s newtype: its own reader buffers the raw text.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The only error: the document goes to serde_json.
#[derive(Debug)]
pub(crate) struct Decline;

impl fmt::Display for Decline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to serde_json")
    }
}

impl std::error::Error for Decline {}

impl de::Error for Decline {
    #[cold]
    fn custom<T: fmt::Display>(_: T) -> Self {
        Decline
    }
}

type Result<T> = std::result::Result<T, Decline>;

struct Reader<'de> {
    /// The document, known to be UTF-8 (`input` as text).
    text: &'de str,
    input: &'de [u8],
    at: usize,
    depth: u32,
    /// Set by every error that passes through the reader.
    failed: bool,
    /// Strings with escapes, unescaped (reused, as serde_json reuses its own).
    scratch: String,
}

/// A string read after its opening quote.
enum Str {
    /// No escapes: where the text between the quotes is (quotes are ASCII, so its bounds are
    /// character boundaries).
    Plain(std::ops::Range<usize>),
    /// With escapes: where the text starts, and its first backslash (`at` still on the opening
    /// quote).
    Escaped { start: usize, backslash: usize },
}

/// A number as serde_json's parser makes it.
enum Number {
    U64(u64),
    I64(i64),
    F64(f64),
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// How this build of serde_json reads numbers, found once by asking it.
struct Numbers {
    /// `deserialize_any` visits numbers as `u64`, `i64` or `f64` (serde_json's
    /// `arbitrary_precision` feature, which another crate may turn on, makes it visit a map).
    any: bool,
    /// Floats are read as [`f64_from_parts`] reads them (serde_json's `float_roundtrip`
    /// feature reads them otherwise, correctly rounded).
    floats: bool,
}

fn numbers() -> &'static Numbers {
    static NUMBERS: OnceLock<Numbers> = OnceLock::new();
    NUMBERS.get_or_init(|| {
        // Without the feature the number is an f64, written back as `100.0`; with it, the text
        // is kept (`1e2`).
        let written = serde_json::from_str::<serde_json::Value>("1e2").map(|v| v.to_string());
        // The first two are read one unit in the last place apart by the two algorithms.
        let floats = [
            "412727.53034176767",
            "1864378.9189404218",
            "12.5",
            "-0.1",
            "1e-310",
            "9.5e22",
            "2.2250738585072014e-308",
            "1.7976931348623157e308",
            "0e0",
            "123456789012345678e-5",
        ]
        .iter()
        .all(|text| {
            let (input, scratch) = (text.as_bytes(), String::new());
            let mut reader = Reader { text, input, at: 0, depth: 0, failed: false, scratch };
            let ours = match reader.number(true) {
                Some(Number::F64(f)) if reader.at == input.len() => Some(f),
                _ => None,
            };
            let theirs = serde_json::from_str::<f64>(text).ok();
            ours.map(f64::to_bits) == theirs.map(f64::to_bits)
        });
        Numbers { any: written.is_ok_and(|text| text.as_str() == "100.0"), floats }
    })
}

/// serde_json's `f64_from_parts` (without `float_roundtrip`): `significand × 10^exponent`, one
/// multiplication or division by a power of ten; `None` for infinity (an error there).
fn f64_from_parts(significand: u64, mut exponent: i32) -> Option<f64> {
    let mut f = significand as f64;
    loop {
        match POW10.get(exponent.wrapping_abs() as usize) {
            Some(&pow) => {
                if exponent >= 0 {
                    f *= pow;
                    if f.is_infinite() {
                        return None;
                    }
                } else {
                    f /= pow;
                }
                return Some(f);
            }
            None => {
                if f == 0.0 {
                    return Some(f);
                }
                if exponent >= 0 {
                    return None;
                }
                f /= 1e308;
                exponent += 308;
            }
        }
    }
}

/// Powers of ten as serde_json has them (the literals, each correctly rounded).
#[rustfmt::skip]
static POW10: [f64; 309] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
    1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
    1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29,
    1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39,
    1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48, 1e49,
    1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59,
    1e60, 1e61, 1e62, 1e63, 1e64, 1e65, 1e66, 1e67, 1e68, 1e69,
    1e70, 1e71, 1e72, 1e73, 1e74, 1e75, 1e76, 1e77, 1e78, 1e79,
    1e80, 1e81, 1e82, 1e83, 1e84, 1e85, 1e86, 1e87, 1e88, 1e89,
    1e90, 1e91, 1e92, 1e93, 1e94, 1e95, 1e96, 1e97, 1e98, 1e99,
    1e100, 1e101, 1e102, 1e103, 1e104, 1e105, 1e106, 1e107, 1e108, 1e109,
    1e110, 1e111, 1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118, 1e119,
    1e120, 1e121, 1e122, 1e123, 1e124, 1e125, 1e126, 1e127, 1e128, 1e129,
    1e130, 1e131, 1e132, 1e133, 1e134, 1e135, 1e136, 1e137, 1e138, 1e139,
    1e140, 1e141, 1e142, 1e143, 1e144, 1e145, 1e146, 1e147, 1e148, 1e149,
    1e150, 1e151, 1e152, 1e153, 1e154, 1e155, 1e156, 1e157, 1e158, 1e159,
    1e160, 1e161, 1e162, 1e163, 1e164, 1e165, 1e166, 1e167, 1e168, 1e169,
    1e170, 1e171, 1e172, 1e173, 1e174, 1e175, 1e176, 1e177, 1e178, 1e179,
    1e180, 1e181, 1e182, 1e183, 1e184, 1e185, 1e186, 1e187, 1e188, 1e189,
    1e190, 1e191, 1e192, 1e193, 1e194, 1e195, 1e196, 1e197, 1e198, 1e199,
    1e200, 1e201, 1e202, 1e203, 1e204, 1e205, 1e206, 1e207, 1e208, 1e209,
    1e210, 1e211, 1e212, 1e213, 1e214, 1e215, 1e216, 1e217, 1e218, 1e219,
    1e220, 1e221, 1e222, 1e223, 1e224, 1e225, 1e226, 1e227, 1e228, 1e229,
    1e230, 1e231, 1e232, 1e233, 1e234, 1e235, 1e236, 1e237, 1e238, 1e239,
    1e240, 1e241, 1e242, 1e243, 1e244, 1e245, 1e246, 1e247, 1e248, 1e249,
    1e250, 1e251, 1e252, 1e253, 1e254, 1e255, 1e256, 1e257, 1e258, 1e259,
    1e260, 1e261, 1e262, 1e263, 1e264, 1e265, 1e266, 1e267, 1e268, 1e269,
    1e270, 1e271, 1e272, 1e273, 1e274, 1e275, 1e276, 1e277, 1e278, 1e279,
    1e280, 1e281, 1e282, 1e283, 1e284, 1e285, 1e286, 1e287, 1e288, 1e289,
    1e290, 1e291, 1e292, 1e293, 1e294, 1e295, 1e296, 1e297, 1e298, 1e299,
    1e300, 1e301, 1e302, 1e303, 1e304, 1e305, 1e306, 1e307, 1e308,
];

/// The run of digits at `at`: its length and, if it has at most 19 digits, its value (`None`
/// for longer runs).
#[inline(always)]
fn digit_run(input: &[u8], at: usize) -> Option<(usize, u64)> {
    if let Some(run) = swar::digit_run(input.get(at..)?) {
        return Some(run);
    }
    let (mut len, mut value) = (0, 0u64);
    while let Some(&d @ b'0'..=b'9') = input.get(at + len) {
        if len == 19 {
            return None;
        }
        value = value * 10 + u64::from(d - b'0');
        len += 1;
    }
    Some((len, value))
}

/// The index of the first byte at or after `at` that is not whitespace.
#[inline(always)]
fn ws(input: &[u8], mut at: usize) -> usize {
    while input.get(at).is_some_and(|&b| is_ws(b)) {
        at += 1;
    }
    at
}

/// The end (past the closing quote) of the string whose content starts at `at`, its escapes
/// checked as serde_json's `ignore_str` checks them (its UTF-8 is not: serde_json's
/// `from_slice` does not check the strings it skips either).
#[inline(always)]
fn string_end(input: &[u8], at: usize) -> Option<usize> {
    let end = swar::string_stop(input, at);
    match input.get(end)? {
        b'"' => Some(end + 1),
        b'\\' => escaped_end(input, end),
        _ => None,
    }
}

/// The end (past the closing quote) of a string with escapes, `at` on a backslash.
fn escaped_end(input: &[u8], mut at: usize) -> Option<usize> {
    loop {
        match input.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => {
                match input.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at += 2,
                    b'u' if input.get(at + 2..at + 6)?.iter().all(u8::is_ascii_hexdigit) => {
                        at += 6;
                    }
                    _ => return None,
                }
                at = swar::string_stop(input, at);
            }
            _ => return None,
        }
    }
}

/// The end of the number at `at` (which starts with `-` or a digit), checked as serde_json
/// checks the numbers it skips: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
#[inline(always)]
fn number_end(input: &[u8], at: usize) -> Option<usize> {
    let digits = |at: usize| swar::digits_end(input, at);
    let mut at = at + usize::from(input.get(at) == Some(&b'-'));
    at = match input.get(at)? {
        b'0' => at + 1,
        b'1'..=b'9' => digits(at + 1),
        _ => return None,
    };
    if input.get(at) == Some(&b'.') {
        let end = digits(at + 1);
        if end == at + 1 {
            return None;
        }
        at = end;
    }
    if let Some(b'e' | b'E') = input.get(at) {
        at += 1;
        if let Some(b'+' | b'-') = input.get(at) {
            at += 1;
        }
        let end = digits(at);
        if end == at {
            return None;
        }
        at = end;
    }
    // A digit here follows a leading `0`: an error for serde_json.
    if input.get(at).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(at)
}

/// The end of the value at `at` (whitespace first allowed), checked as serde_json's
/// `IgnoredAny` checks what it skips; `None` where serde_json would fail or the value nests
/// deeper than 64 levels. One loop over the input, the open arrays and objects kept as bits.
#[inline(never)]
fn skip_value(input: &[u8], mut at: usize) -> Option<usize> {
    // Bit `i` of `objects`: whether the container at depth `i + 1` is an object.
    let (mut objects, mut depth) = (0u64, 0u32);
    loop {
        // A value.
        at = ws(input, at);
        match *input.get(at)? {
            b'"' => at = string_end(input, at + 1)?,
            b'-' | b'0'..=b'9' => at = number_end(input, at)?,
            b'n' => at = literal(input, at, b"null")?,
            b't' => at = literal(input, at, b"true")?,
            b'f' => at = literal(input, at, b"false")?,
            open @ (b'[' | b'{') => {
                at = ws(input, at + 1);
                let close = open + 2;
                if input.get(at) == Some(&close) {
                    at += 1;
                } else {
                    if depth == 64 {
                        return None;
                    }
                    let object = open == b'{';
                    objects = objects << 1 | u64::from(object);
                    depth += 1;
                    if object {
                        at = member_key(input, at)?;
                    }
                    continue;
                }
            }
            _ => return None,
        }
        // After a value: the containers it ends.
        loop {
            if depth == 0 {
                return Some(at);
            }
            at = ws(input, at);
            let object = objects & 1 == 1;
            match (input.get(at)?, object) {
                (b',', false) => {
                    at += 1;
                    break;
                }
                (b',', true) => {
                    at = member_key(input, ws(input, at + 1))?;
                    break;
                }
                (b']', false) | (b'}', true) => {
                    at += 1;
                    objects >>= 1;
                    depth -= 1;
                }
                _ => return None,
            }
        }
    }
}

/// Past `"key":` at `at` (the key checked as a skipped string).
#[inline(always)]
fn member_key(input: &[u8], at: usize) -> Option<usize> {
    if input.get(at) != Some(&b'"') {
        return None;
    }
    let at = ws(input, string_end(input, at + 1)?);
    (input.get(at) == Some(&b':')).then_some(at + 1)
}

/// Past `word` at `at`.
#[inline(always)]
fn literal(input: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    input[at..].starts_with(word).then_some(at + word.len())
}

impl<'de> Reader<'de> {
    #[cold]
    fn decline<T>(&mut self) -> Result<T> {
        self.failed = true;
        Err(Decline)
    }

    /// Notes an error coming back from a visitor or a seed.
    #[inline(always)]
    fn track<T>(&mut self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    /// The next byte that is not whitespace (not consumed).
    #[inline(always)]
    fn peek_ws(&mut self) -> Option<u8> {
        let b = *self.input.get(self.at)?;
        if !is_ws(b) {
            return Some(b);
        }
        self.skip_ws()
    }

    #[cold]
    fn skip_ws(&mut self) -> Option<u8> {
        while let Some(&b) = self.input.get(self.at) {
            if !is_ws(b) {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    /// Consumes `word` (`null`, `true`, `false`), which the input is known to start with
    /// `word[0]` of.
    fn word(&mut self, word: &'static [u8]) -> Result<()> {
        if self.input[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            self.decline()
        }
    }

    fn colon(&mut self) -> Result<()> {
        if self.peek_ws() == Some(b':') {
            self.at += 1;
            Ok(())
        } else {
            self.decline()
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.decline();
        }
        Ok(())
    }

    /// A string, `at` on its opening quote.
    #[inline(always)]
    fn string(&mut self) -> Result<Str> {
        let start = self.at + 1;
        let end = swar::string_stop(self.input, start);
        match self.input.get(end) {
            Some(b'"') => {
                self.at = end + 1;
                Ok(Str::Plain(start..end))
            }
            Some(b'\\') => Ok(Str::Escaped { start, backslash: end }),
            _ => self.decline(),
        }
    }

    /// The text of a string with escapes (`start` where it starts, `backslash` its first
    /// backslash), unescaped into `self.scratch` as serde_json's `parse_str` unescapes it; `at`
    /// then past the closing quote. `None` where serde_json fails (a bad escape, a lone
    /// surrogate, a control character, the end of the input).
    fn unescape(&mut self, start: usize, backslash: usize) -> Option<()> {
        let (text, input) = (self.text, self.input);
        let hex = |at: usize| -> Option<u32> {
            input.get(at..at + 4)?.iter().try_fold(0, |n, &d| {
                let digit = match d {
                    b'0'..=b'9' => d - b'0',
                    b'a'..=b'f' => d - b'a' + 10,
                    b'A'..=b'F' => d - b'A' + 10,
                    _ => return None,
                };
                Some(n << 4 | u32::from(digit))
            })
        };
        self.scratch.clear();
        let (mut plain, mut stop) = (start, backslash);
        loop {
            self.scratch.push_str(text.get(plain..stop)?);
            match input.get(stop)? {
                b'"' => {
                    self.at = stop + 1;
                    return Some(());
                }
                b'\\' => {}
                _ => return None,
            }
            let mut next = stop + 2;
            let c = match input.get(stop + 1)? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let n = hex(next)?;
                    next += 4;
                    match n {
                        0xDC00..=0xDFFF => return None,
                        0xD800..=0xDBFF => {
                            // A leading surrogate: its trailing one must follow.
                            if input.get(next..next + 2)? != b"\\u" {
                                return None;
                            }
                            let n2 = hex(next + 2)?;
                            if !(0xDC00..=0xDFFF).contains(&n2) {
                                return None;
                            }
                            next += 6;
                            char::from_u32((((n - 0xD800) << 10) | (n2 - 0xDC00)) + 0x1_0000)?
                        }
                        _ => char::from_u32(n)?,
                    }
                }
                _ => return None,
            };
            self.scratch.push(c);
            plain = next;
            stop = swar::string_stop(input, next);
        }
    }

    /// The end (past the closing quote) of a string with escapes, `at` on a backslash.
    fn escaped_end(&mut self, at: usize) -> Result<usize> {
        match escaped_end(self.input, at) {
            Some(end) => Ok(end),
            None => self.decline(),
        }
    }

    /// A string for a visitor that takes text, `at` on its opening quote.
    #[inline(always)]
    fn visit_string<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        match self.string()? {
            Str::Plain(range) => match self.text.get(range) {
                Some(text) => {
                    let result = visitor.visit_borrowed_str(text);
                    self.track(result)
                }
                None => self.decline(),
            },
            Str::Escaped { start, backslash } => {
                if self.unescape(start, backslash).is_none() {
                    return self.decline();
                }
                let result = visitor.visit_str(&self.scratch);
                self.track(result)
            }
        }
    }

    /// Has serde_json read `token` (one whole JSON value) with `read`.
    fn delegate<T>(
        &mut self,
        token: &'de [u8],
        read: impl FnOnce(
            &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
        ) -> serde_json::Result<T>,
    ) -> Result<T> {
        let mut json = serde_json::Deserializer::from_slice(token);
        match read(&mut json).and_then(|value| json.end().map(|()| value)) {
            Ok(value) => Ok(value),
            Err(_) => self.decline(),
        }
    }

    /// The extent of a number at `at`.
    fn number_end(&mut self) -> Result<usize> {
        match number_end(self.input, self.at) {
            Some(end) => Ok(end),
            None => self.decline(),
        }
    }

    /// The number at `at`, read in one pass as serde_json reads it, if it is an integer of up
    /// to 19 digits or (with `floats`) a number of up to 19 significant digits and an exponent
    /// of up to 9 digits; consumed. `None` for anything else (nothing consumed): serde_json
    /// reads it.
    #[inline]
    fn number(&mut self, floats: bool) -> Option<Number> {
        let input = self.input;
        let negative = input.get(self.at) == Some(&b'-');
        let start = self.at + usize::from(negative);
        let (len, magnitude) = digit_run(input, start)?;
        // No digits, or a leading zero: an error for serde_json.
        if len == 0 || (len > 1 && input[start] == b'0') {
            return None;
        }
        let mut at = start + len;
        if !matches!(input.get(at), Some(b'.' | b'e' | b'E')) {
            let number = if !negative {
                Number::U64(magnitude)
            } else if magnitude == 0 || magnitude > 1 << 63 {
                // `-0`, and below `i64::MIN`: floats to serde_json.
                if !floats {
                    return None;
                }
                Number::F64(-(magnitude as f64))
            } else {
                Number::I64(0i64.wrapping_sub_unsigned(magnitude))
            };
            self.at = at;
            return Some(number);
        }
        if !floats {
            return None;
        }
        let (mut significand, mut exponent) = (magnitude, 0i32);
        if input.get(at) == Some(&b'.') {
            let (fraction, value) = digit_run(input, at + 1)?;
            if fraction == 0 || len + fraction > 19 {
                return None;
            }
            significand = significand * swar::POW10_U64[fraction] + value;
            exponent = -(fraction as i32);
            at += 1 + fraction;
        }
        if let Some(b'e' | b'E') = input.get(at) {
            at += 1;
            let positive = match input.get(at) {
                Some(b'-') => false,
                Some(b'+') => true,
                _ => {
                    at -= 1;
                    true
                }
            };
            at += 1;
            let (digits, exp) = digit_run(input, at)?;
            if digits == 0 || digits > 9 {
                return None;
            }
            let exp = exp as i32;
            exponent =
                if positive { exponent.saturating_add(exp) } else { exponent.saturating_sub(exp) };
            at += digits;
        }
        let magnitude = f64_from_parts(significand, exponent)?;
        self.at = at;
        Some(Number::F64(if negative { -magnitude } else { magnitude }))
    }

    /// A number for `visitor`, `at` on it: small integers here, any other number read by
    /// serde_json with `read` (the method serde_json would use itself).
    #[inline]
    fn visit_number<V: Visitor<'de>>(
        &mut self,
        visitor: V,
        fast: bool,
        read: impl FnOnce(
            &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
            V,
        ) -> serde_json::Result<V::Value>,
    ) -> Result<V::Value> {
        if fast {
            let result = match self.number(numbers().floats) {
                Some(Number::U64(n)) => visitor.visit_u64(n),
                Some(Number::I64(n)) => visitor.visit_i64(n),
                Some(Number::F64(n)) => visitor.visit_f64(n),
                None => return self.delegate_number(visitor, read),
            };
            return self.track(result);
        }
        self.delegate_number(visitor, read)
    }

    /// Has serde_json read the number at `at` with `read`.
    fn delegate_number<V: Visitor<'de>>(
        &mut self,
        visitor: V,
        read: impl FnOnce(
            &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
            V,
        ) -> serde_json::Result<V::Value>,
    ) -> Result<V::Value> {
        let end = self.number_end()?;
        let token = &self.input[self.at..end];
        self.at = end;
        self.delegate(token, |d| read(d, visitor))
    }

    /// A `serde_json::value::RawValue`: the value is found here and its text handed to serde_json,
    /// which makes the `RawValue` from it as it would in place.
    fn raw_value<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let start = ws(self.input, self.at);
        let Some(end) = skip_value(self.input, start) else { return self.decline() };
        let token = &self.input[start..end];
        self.at = end;
        self.delegate(token, |d| {
            de::Deserializer::deserialize_newtype_struct(d, RAW_VALUE_TOKEN, visitor)
        })
    }

    /// A number in quotes (a map key), `at` on the opening quote, read as serde_json reads
    /// numeric keys: the number (see [`Reader::visit_number`]), then the closing quote.
    fn quoted_number<V: Visitor<'de>>(
        &mut self,
        visitor: V,
        fast: bool,
        read: impl FnOnce(
            &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
            V,
        ) -> serde_json::Result<V::Value>,
    ) -> Result<V::Value> {
        self.at += 1;
        if !matches!(self.input.get(self.at), Some(b'-' | b'0'..=b'9')) {
            return self.decline();
        }
        let value = self.visit_number(visitor, fast, read)?;
        if self.input.get(self.at) != Some(&b'"') {
            return self.decline();
        }
        self.at += 1;
        Ok(value)
    }

    /// Skips a value as serde_json's `IgnoredAny` does: checked, never kept.
    #[inline]
    fn skip(&mut self) -> Result<()> {
        let (input, at) = (self.input, self.at);
        // Strings and numbers, the values most often skipped, without a call.
        let end = match input.get(at) {
            Some(b'"') => string_end(input, at + 1),
            Some(b'-' | b'0'..=b'9') => number_end(input, at),
            _ => skip_value(input, at),
        };
        match end {
            Some(end) => {
                self.at = end;
                Ok(())
            }
            None => self.decline(),
        }
    }

    /// Ends an array or object: `close` must come next.
    fn close(&mut self, close: u8) -> Result<()> {
        if self.peek_ws() == Some(close) {
            self.at += 1;
            self.depth -= 1;
            Ok(())
        } else {
            self.decline()
        }
    }

    fn visit_seq<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.enter()?;
        self.at += 1;
        let result = visitor.visit_seq(SeqAccess { de: &mut *self, first: true });
        let value = self.track(result)?;
        self.close(b']')?;
        Ok(value)
    }

    fn visit_map<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.enter()?;
        self.at += 1;
        let result = visitor.visit_map(MapAccess { de: &mut *self, first: true });
        let value = self.track(result)?;
        self.close(b'}')?;
        Ok(value)
    }
}

macro_rules! numbers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            match self.peek_ws() {
                Some(b'-' | b'0'..=b'9') => {
                    self.visit_number(visitor, true, |d, v| de::Deserializer::$method(d, v))
                }
                _ => self.decline(),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = Decline;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = match self.peek_ws() {
            Some(b'"') => return self.visit_string(visitor),
            Some(b'{') => return self.visit_map(visitor),
            Some(b'[') => return self.visit_seq(visitor),
            Some(b'-' | b'0'..=b'9') => {
                let fast = numbers().any;
                return self
                    .visit_number(visitor, fast, |d, v| de::Deserializer::deserialize_any(d, v));
            }
            Some(b'n') => {
                self.word(b"null")?;
                visitor.visit_unit()
            }
            Some(b't') => {
                self.word(b"true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.word(b"false")?;
                visitor.visit_bool(false)
            }
            _ => return self.decline(),
        };
        self.track(result)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = match self.peek_ws() {
            Some(b't') => {
                self.word(b"true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.word(b"false")?;
                visitor.visit_bool(false)
            }
            _ => return self.decline(),
        };
        self.track(result)
    }

    numbers! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    #[inline]
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'"') => self.visit_string(visitor),
            _ => self.decline(),
        }
    }

    #[inline]
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'"') => match self.string()? {
                Str::Plain(range) => {
                    let result = visitor.visit_borrowed_bytes(&self.input[range]);
                    self.track(result)
                }
                // Bytes may hold lone surrogates: serde_json unescapes them.
                Str::Escaped { backslash, .. } => {
                    let end = self.escaped_end(backslash)?;
                    let token = &self.input[self.at..end];
                    self.at = end;
                    self.delegate(token, |d| de::Deserializer::deserialize_bytes(d, visitor))
                }
            },
            Some(b'[') => self.visit_seq(visitor),
            _ => self.decline(),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    #[inline]
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = if self.peek_ws() == Some(b'n') {
            self.word(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(&mut *self)
        };
        self.track(result)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek_ws() != Some(b'n') {
            return self.decline();
        }
        self.word(b"null")?;
        let result = visitor.visit_unit();
        self.track(result)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == RAW_VALUE_TOKEN {
            return self.raw_value(visitor);
        }
        let result = visitor.visit_newtype_struct(&mut *self);
        self.track(result)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'[') => self.visit_seq(visitor),
            _ => self.decline(),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'{') => self.visit_map(visitor),
            _ => self.decline(),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'{') => self.visit_map(visitor),
            Some(b'[') => self.visit_seq(visitor),
            _ => self.decline(),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'{') => {
                self.enter()?;
                self.at += 1;
                let result = visitor.visit_enum(VariantAccess { de: &mut *self });
                let value = self.track(result)?;
                self.close(b'}')?;
                Ok(value)
            }
            Some(b'"') => {
                let result = visitor.visit_enum(UnitVariantAccess { de: &mut *self });
                self.track(result)
            }
            _ => self.decline(),
        }
    }

    #[inline]
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    #[inline]
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip()?;
        let result = visitor.visit_unit();
        self.track(result)
    }

    // 128-bit integers: read by serde_json.
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'-' | b'0'..=b'9') => {
                self.visit_number(visitor, false, |d, v| de::Deserializer::deserialize_i128(d, v))
            }
            _ => self.decline(),
        }
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'-' | b'0'..=b'9') => {
                self.visit_number(visitor, false, |d, v| de::Deserializer::deserialize_u128(d, v))
            }
            _ => self.decline(),
        }
    }
}

struct SeqAccess<'a, 'de> {
    de: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_, 'de> {
    type Error = Decline;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.de.peek_ws() {
            Some(b']') => return Ok(None),
            Some(b',') if !self.first => {
                self.de.at += 1;
                if let None | Some(b']') = self.de.peek_ws() {
                    return self.de.decline();
                }
            }
            Some(_) if self.first => self.first = false,
            _ => return self.de.decline(),
        }
        let result = seed.deserialize(&mut *self.de);
        self.de.track(result).map(Some)
    }
}

struct MapAccess<'a, 'de> {
    de: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_, 'de> {
    type Error = Decline;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let (input, at) = (self.de.input, self.de.at);
        if !self.first && input.get(at) == Some(&b',') && input.get(at + 1) == Some(&b'"') {
            // Compact JSON's `,"`.
            self.de.at = at + 1;
        } else {
            match self.de.peek_ws() {
                Some(b'}') => return Ok(None),
                Some(b',') if !self.first => {
                    self.de.at += 1;
                    if self.de.peek_ws() != Some(b'"') {
                        return self.de.decline();
                    }
                }
                Some(b'"') if self.first => self.first = false,
                _ => return self.de.decline(),
            }
        }
        let result = seed.deserialize(MapKey { de: &mut *self.de });
        self.de.track(result).map(Some)
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.de.colon()?;
        let result = seed.deserialize(&mut *self.de);
        self.de.track(result)
    }
}

macro_rules! numeric_keys {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.de.quoted_number(visitor, true, |d, v| de::Deserializer::$method(d, v))
        }
    )*};
}

/// An object's key, `at` on its opening quote.
struct MapKey<'a, 'de> {
    de: &'a mut Reader<'de>,
}

impl<'de> de::Deserializer<'de> for MapKey<'_, 'de> {
    type Error = Decline;

    #[inline]
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.de.visit_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Keys are never null.
        let de = &mut *self.de;
        let result = visitor.visit_some(MapKey { de: &mut *de });
        de.track(result)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        let de = &mut *self.de;
        if name == RAW_VALUE_TOKEN {
            return de.raw_value(visitor);
        }
        let result = visitor.visit_newtype_struct(MapKey { de: &mut *de });
        de.track(result)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_enum(self.de, name, variants, visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_bytes(self.de, visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_bytes(self.de, visitor)
    }

    // Numbers and booleans in quotes (`{"1": …}`), as serde_json reads numeric and boolean keys.
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let de = &mut *self.de;
        let rest = &de.input[de.at..];
        let value = if rest.starts_with(b"\"true\"") {
            de.at += 6;
            true
        } else if rest.starts_with(b"\"false\"") {
            de.at += 7;
            false
        } else {
            return de.decline();
        };
        let result = visitor.visit_bool(value);
        de.track(result)
    }

    numeric_keys! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.de.quoted_number(visitor, false, |d, v| de::Deserializer::deserialize_i128(d, v))
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.de.quoted_number(visitor, false, |d, v| de::Deserializer::deserialize_u128(d, v))
    }

    serde::forward_to_deserialize_any! {
        char str string unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// `{"Variant": value}`, `at` past the `{`.
struct VariantAccess<'a, 'de> {
    de: &'a mut Reader<'de>,
}

impl<'de> de::EnumAccess<'de> for VariantAccess<'_, 'de> {
    type Error = Decline;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        if self.de.peek_ws() != Some(b'"') {
            return self.de.decline();
        }
        let result = seed.deserialize(MapKey { de: &mut *self.de });
        let variant = self.de.track(result)?;
        self.de.colon()?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for VariantAccess<'_, 'de> {
    type Error = Decline;

    fn unit_variant(self) -> Result<()> {
        let result = <()>::deserialize(&mut *self.de);
        self.de.track(result)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        let result = seed.deserialize(&mut *self.de);
        self.de.track(result)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_struct(self.de, "", fields, visitor)
    }
}

/// `"Variant"`, `at` on the opening quote.
struct UnitVariantAccess<'a, 'de> {
    de: &'a mut Reader<'de>,
}

impl<'de> de::EnumAccess<'de> for UnitVariantAccess<'_, 'de> {
    type Error = Decline;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let result = seed.deserialize(&mut *self.de);
        let variant = self.de.track(result)?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariantAccess<'_, 'de> {
    type Error = Decline;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    // A unit variant's name where the type wants content: an error for serde_json.
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value> {
        self.de.decline()
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value> {
        self.de.decline()
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        self.de.decline()
    }
}

/// Panics where the fast path accepts `json` but serde_json rejects it or reads it differently,
/// for `serde_json::Value` and for a struct of most serde shapes (`Probe`). For the unit tests,
/// the fuzz target and the fuzz smoke test (through `msk_lambda::__differential`).
#[cfg(any(test, feature = "__differential"))]
pub(crate) fn check_against_serde(json: &[u8]) {
    agrees::<serde_json::Value>(json);
    agrees::<probe::Probe>(json);
    agrees::<Vec<probe::Probe>>(json);
    agrees::<probe::Flat>(json);
    agrees::<probe::Strict>(json);
    agrees::<probe::Kind>(json);
    agrees::<probe::Untagged>(json);
}

/// Whether the fast path read `json` as `serde_json::Value` without declining.
#[cfg(any(test, feature = "__differential"))]
pub(crate) fn reads_value(json: &[u8]) -> bool {
    from_slice::<serde_json::Value>(json).is_some()
}

#[cfg(any(test, feature = "__differential"))]
fn agrees<T: serde::de::DeserializeOwned + fmt::Debug>(json: &[u8]) {
    let Some(fast) = from_slice::<T>(json) else { return };
    let text = String::from_utf8_lossy(json);
    let serde = serde_json::from_slice::<T>(json).unwrap_or_else(|e| {
        panic!(
            "the fast JSON path read {text:?} as `{}` but serde_json rejects it: {e}",
            std::any::type_name::<T>()
        )
    });
    // Debug output tells -0.0 from 0.0, which `==` does not.
    assert_eq!(format!("{fast:?}"), format!("{serde:?}"), "{text:?}");
}

/// Types that together take every path of the reader (compared through their `Debug` output,
/// which the dead-code lint does not count as reading their fields).
#[cfg(any(test, feature = "__differential"))]
#[allow(dead_code)]
pub(crate) mod probe {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Probe {
        pub user_id: Option<String>,
        pub n: Option<i64>,
        pub u: Option<u8>,
        pub f: Option<f64>,
        pub g: Option<f32>,
        pub b: Option<bool>,
        pub c: Option<char>,
        pub unit: Option<()>,
        pub list: Option<Vec<u32>>,
        pub bytes: Option<serde_bytes_like::Bytes>,
        pub map: Option<BTreeMap<String, i16>>,
        pub keyed: Option<BTreeMap<u32, bool>>,
        pub tuple: Option<(u16, String)>,
        pub kind: Option<Kind>,
        pub untagged: Option<Untagged>,
        pub tagged: Option<Tagged>,
        pub nested: Option<Box<Probe>>,
        pub any: Option<serde_json::Value>,
        #[serde(default, deserialize_with = "lenient")]
        pub lenient: Option<u32>,
        #[serde(alias = "other")]
        pub renamed: Option<String>,
        pub big: Option<i128>,
        pub ubig: Option<u128>,
        pub raw: Option<Box<serde_json::value::RawValue>>,
        pub signed_keys: Option<BTreeMap<i64, u8>>,
        pub bool_keys: Option<BTreeMap<bool, u8>>,
        pub wide_keys: Option<BTreeMap<u128, u8>>,
    }

    /// Swallows its error: serde_json then goes on from wherever it stopped.
    fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        Ok(u32::deserialize(d).ok())
    }

    #[derive(Debug, Deserialize)]
    pub enum Kind {
        Unit,
        New(i32),
        Pair(i8, String),
        Fields { x: i64, y: Option<String> },
    }

    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    pub enum Untagged {
        Number(f64),
        Text(String),
        Object { a: i32 },
    }

    #[derive(Debug, Deserialize)]
    #[serde(tag = "t")]
    pub enum Tagged {
        A { a: u64 },
        B,
    }

    #[derive(Debug, Deserialize)]
    pub struct Flat {
        pub id: Option<u64>,
        #[serde(flatten)]
        pub rest: BTreeMap<String, serde_json::Value>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Strict {
        pub a: Option<String>,
        pub b: Option<Vec<Option<bool>>>,
    }

    /// `deserialize_bytes` without the serde_bytes crate.
    pub mod serde_bytes_like {
        use std::fmt;

        use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

        #[derive(Debug)]
        pub struct Bytes(pub Vec<u8>);

        impl<'de> Deserialize<'de> for Bytes {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Bytes;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("bytes")
                    }
                    fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                        Ok(Bytes(v.to_vec()))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
                        let mut out = Vec::new();
                        while let Some(b) = seq.next_element()? {
                            out.push(b);
                        }
                        Ok(Bytes(out))
                    }
                }
                d.deserialize_bytes(V)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::probe::*;
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct UserEvent {
        user_id: String,
        event_type: String,
    }

    fn from_str<'de, T: Deserialize<'de>>(json: &'de str) -> Option<T> {
        from_slice(json.as_bytes())
    }

    const EVENT: &str = r#"{"userId":"user-1","eventType":"login","timestamp":1735689600000,"sessionId":"00ff","page":"/p/1","amount":12.5,"tags":["a","b"],"device":{"os":"ios","version":"1.2"},"note":"xxxx"}"#;

    /// Accepted by the fast path, and read as serde_json reads it.
    fn fast(json: &str) {
        assert!(reads_value(json.as_bytes()), "declined: {json}");
        check_against_serde(json.as_bytes());
    }

    /// Declined for `Value`, and checked anyway for the other types.
    fn declined(json: &str) {
        assert!(!reads_value(json.as_bytes()), "accepted: {json}");
        check_against_serde(json.as_bytes());
    }

    #[test]
    fn typical_payloads_take_the_fast_path() {
        let event: UserEvent = from_str(EVENT).unwrap();
        assert_eq!(event, serde_json::from_str(EVENT).unwrap());
        fast(EVENT);
        let spaced =
            " {\n \"userId\" : \"u\" ,\t\"eventType\":\"view\" , \"x\" : [ 1 , { } , [ ] ] } \r\n";
        assert!(from_str::<UserEvent>(spaced).is_some());
        fast(spaced);
    }

    #[test]
    fn shapes_agree_with_serde() {
        for json in [
            r#"{"userId":"u","n":-7,"u":255,"f":1.5e-3,"g":0.1,"b":true,"c":"é","unit":null}"#,
            r#"{"list":[1,2,3],"bytes":"abc","map":{"a":-1,"b":2},"tuple":[7,"x"]}"#,
            r#"{"bytes":[1,2],"kind":"Unit","untagged":1.5,"tagged":{"t":"A","a":3}}"#,
            r#"{"kind":{"New":5},"untagged":"text","tagged":{"t":"B"},"nested":{"userId":"v"}}"#,
            r#"{"kind":{"Pair":[1,"a"]},"untagged":{"a":1},"any":{"x":[null,true,-0,1e400]}}"#,
            r#"{"kind":{"Fields":{"x":1,"y":null}},"lenient":"not a number","n":1}"#,
            r#"{"lenient":7,"other":"alias","renamed":"twice"}"#,
            r#"{"id":5,"a":{"b":[1.0,-2]},"c":"d"}"#,
            r#"{"a":"x","b":[true,null,false]}"#,
            r#"{"a":"x","zzz":1}"#,
            r#"[{"userId":"a"},{"u":1}]"#,
            r#"{"keyed":{"1":true}}"#,
            r#"{"userId":"\u00e9\n\"q\" \ud83d\ude00","c":"\u0041","map":{"\u0061":1}}"#,
            r#"{"userId":"\ud800"}"#,
            r#""Unit""#,
            r#"{"Fields":{"x":-9223372036854775808}}"#,
        ] {
            check_against_serde(json.as_bytes());
        }
    }

    #[test]
    fn numbers_agree_with_serde() {
        for n in [
            "0",
            "-1",
            "7",
            "255",
            "256",
            "-128",
            "-129",
            "1.5",
            "-0",
            "-0.0",
            "0e0",
            "1E+2",
            "1e-2",
            "18446744073709551615",
            "18446744073709551616",
            "9999999999999999999",
            "10000000000000000000",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "2.2250738585072014e-308",
            "0.1",
            "3.4028235e38",
            "3.4028236e38",
        ] {
            fast(n);
            for doc in
                [format!("[{n}]"), format!(r#"{{"n":{n},"u":{n},"f":{n},"g":{n},"any":{n}}}"#)]
            {
                check_against_serde(doc.as_bytes());
            }
        }
        // Out of range for serde_json (an error), and not numbers at all.
        for bad in
            ["1e400", "-1e400", "01", "-", "1.", "1e", "1e+", "-01", ".5", "+1", "1.e2", "00"]
        {
            declined(bad);
            check_against_serde(format!(r#"{{"n":{bad}}}"#).as_bytes());
        }
    }

    #[test]
    fn floats_are_read_as_serde_json_reads_them() {
        // With serde_json's `float_roundtrip` feature on (another crate of the build may turn it
        // on: this workspace's test build does), `numbers().floats` is false and every float
        // goes to serde_json; what can be checked then is that none is read differently.
        let floats = numbers().floats;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut texts = Vec::new();
        for _ in 0..20_000 {
            let f = f64::from_bits(next());
            if f.is_finite() {
                texts.push(format!("{f}"));
                texts.push(format!("{f:e}"));
                texts.push(format!("{:.3}", f / 1e300));
            }
            let (int, frac, exp) = (next() % 1_000_000, next() % 10_000_000_000, next() % 700);
            texts.push(format!("{int}.{frac:010}e-{exp}"));
            texts.push(format!("-{int}.{frac}E+{}", exp / 3));
            texts.push(format!("0.{frac:019}"));
        }
        let mut fast = 0;
        for text in &texts {
            let ours = from_slice::<f64>(text.as_bytes());
            let theirs = serde_json::from_str::<f64>(text).ok();
            assert_eq!(ours.map(f64::to_bits), theirs.map(f64::to_bits), "{text}");
            if !floats {
                continue;
            }
            let mut reader = Reader {
                text,
                input: text.as_bytes(),
                at: 0,
                depth: 0,
                failed: false,
                scratch: String::new(),
            };
            fast += usize::from(reader.number(true).is_some());
        }
        if floats {
            assert!(fast > texts.len() / 2, "{fast} of {} read here", texts.len());
        }
    }

    #[test]
    fn escapes_are_read_by_serde_json() {
        fast(r#""a\"b\\c\/d\be\ff\ng\rh\ti\u00e9j""#);
        fast(r#"{"x\u0041":"\u00e9","skipped":["\\","\u12ab"]}"#);
        let event: UserEvent =
            from_str(r#"{"userId":"a\"b","eventType":"\u0041","x":"\n"}"#).unwrap();
        assert_eq!(event.user_id, "a\"b");
        assert_eq!(event.event_type, "A");
        for bad in [r#""\x""#, r#""\u12""#, r#""\u12g4""#, r#"{"a":"\q"}"#, r#"["\"#, "\"a\u{1}\""]
        {
            declined(bad);
        }
    }

    #[test]
    fn syntax_errors_are_declined() {
        for bad in [
            "",
            " ",
            "{",
            "}",
            "[",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{,}",
            "{\"a\":1 \"b\":2}",
            "{1:2}",
            "nul",
            "tru",
            "falsey",
            "[1] x",
            "\"abc",
            "{\"a\":}",
            "[1]]",
            "\"a\tb\"",
        ] {
            declined(bad);
        }
        assert!(from_str::<UserEvent>(r#"{"userId":"u","eventType":"e",}"#).is_none());
        assert!(from_str::<UserEvent>(r#"{"userId":"u"}"#).is_none());
        assert!(from_str::<UserEvent>(r#"{"userId":1,"eventType":"e"}"#).is_none());
    }

    #[test]
    fn documents_that_are_not_utf8_are_declined() {
        // Read strings must be UTF-8 for serde_json; strings it skips and bytes need not be,
        // but the fast path checks the whole document and declines.
        let read = b"{\"userId\":\"\xff\",\"eventType\":\"e\"}";
        assert!(from_slice::<UserEvent>(read).is_none());
        assert!(serde_json::from_slice::<UserEvent>(read).is_err());
        let skipped = b"{\"userId\":\"u\",\"eventType\":\"e\",\"x\":[\"\xff\"]}";
        assert!(from_slice::<UserEvent>(skipped).is_none());
        assert!(serde_json::from_slice::<UserEvent>(skipped).is_ok());
        let text = "{\"userId\":\"caf\u{e9} \u{1F600}\",\"eventType\":\"e\"}";
        let event: UserEvent = from_str(text).unwrap();
        assert_eq!(event.user_id, "caf\u{e9} \u{1F600}");
        for json in [&read[..], skipped, b"{\"bytes\":\"\xff\xfe\"}", b"\"\xc3\"", text.as_bytes()]
        {
            check_against_serde(json);
        }
    }

    #[test]
    fn deep_nesting_is_declined() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        fast(&deep(MAX_DEPTH as usize));
        declined(&deep(MAX_DEPTH as usize + 1));
        // Skipped values count too; serde_json skips any depth, so this is one it reads.
        let skipped = format!(r#"{{"userId":"u","eventType":"e","x":{}}}"#, deep(500));
        assert!(from_str::<UserEvent>(&skipped).is_none());
        assert!(serde_json::from_str::<UserEvent>(&skipped).is_ok());
    }

    #[test]
    fn raw_values_are_made_by_serde_json() {
        use serde_json::value::RawValue;

        /// A raw key (`RawValue` is not `Ord`).
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        struct RawKey(String);
        impl<'de> Deserialize<'de> for RawKey {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                Box::<RawValue>::deserialize(d).map(|raw| RawKey(raw.get().to_owned()))
            }
        }
        #[derive(Deserialize)]
        struct Raw<'a> {
            #[serde(borrow)]
            borrowed: &'a RawValue,
            owned: Box<RawValue>,
            keys: std::collections::BTreeMap<RawKey, u8>,
        }
        let json = r#"{"borrowed": [1, {"a" :"\u0041"}] ,"owned":"x\n","keys":{"k\"":1}}"#;
        let fast: Raw<'_> = from_str(json).unwrap();
        let serde: Raw<'_> = serde_json::from_str(json).unwrap();
        assert_eq!(fast.borrowed.get(), r#"[1, {"a" :"\u0041"}]"#);
        assert_eq!(fast.borrowed.get(), serde.borrowed.get());
        assert_eq!(fast.owned.get(), serde.owned.get());
        let keys = |raw: &Raw<'_>| raw.keys.keys().map(|k| k.0.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&fast), [r#""k\"""#]);
        assert_eq!(keys(&fast), keys(&serde));
    }

    #[test]
    fn numeric_and_boolean_keys_are_read_as_serde_json_reads_them() {
        let json = r#"{"signedKeys":{"-1":2,"3":4},"boolKeys":{"true":1,"false":0},"keyed":{"7":true},"wideKeys":{"340282366920938463463374607431768211455":1},"big":-170141183460469231731687303715884105728,"ubig":340282366920938463463374607431768211455}"#;
        let probe: Probe = from_str(json).unwrap();
        assert_eq!(probe.signed_keys.unwrap().get(&-1), Some(&2));
        assert_eq!(probe.big, Some(i128::MIN));
        assert_eq!(probe.ubig, Some(u128::MAX));
        check_against_serde(json.as_bytes());
        for bad in [
            r#"{"signedKeys":{"1.5":2}}"#,
            r#"{"signedKeys":{" 1":2}}"#,
            r#"{"signedKeys":{"1 ":2}}"#,
            r#"{"signedKeys":{"":2}}"#,
            r#"{"signedKeys":{"99999999999999999999":2}}"#,
            r#"{"boolKeys":{"True":1}}"#,
            r#"{"boolKeys":{"true ":1}}"#,
            r#"{"wideKeys":{"1e3":1}}"#,
            r#"{"wideKeys":{"-1":1}}"#,
            r#"{"big":1.5}"#,
            r#"{"ubig":-1}"#,
        ] {
            assert!(from_str::<Probe>(bad).is_none(), "{bad}");
            assert!(serde_json::from_str::<Probe>(bad).is_err(), "{bad}");
            check_against_serde(bad.as_bytes());
        }
    }

    #[test]
    fn a_recovered_error_sends_the_document_to_serde_json() {
        // serde_json consumes the string while reporting it as the wrong type; the fast path
        // stops before it. The document must not be read from there.
        let json = r#"{"lenient":"x","n":3}"#;
        assert!(from_str::<Probe>(json).is_none());
        let probe: Probe = serde_json::from_str(json).unwrap();
        assert_eq!((probe.lenient, probe.n), (None, Some(3)));
    }

    #[test]
    fn string_stops() {
        for len in 0..24 {
            for at in 0..len {
                for stop in [b'"', b'\\', 0x00, 0x1f] {
                    let mut text = vec![b'a'; len];
                    text[at] = stop;
                    assert_eq!(swar::string_stop(&text, 0), at);
                    // Bytes that look like stops to a careless SWAR test.
                    text[..at].fill(0x80 | b'"');
                    assert_eq!(swar::string_stop(&text, 0), at);
                    text[..at].fill(0x21);
                    assert_eq!(swar::string_stop(&text, 0), at);
                }
            }
            assert_eq!(swar::string_stop(&vec![0xe9; len], 0), len);
        }
    }
}
