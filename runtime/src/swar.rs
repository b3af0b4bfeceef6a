//! Eight bytes at a time in plain integer arithmetic ("SIMD within a register"): the digit runs
//! of the JSON readers. Portable and safe; the same on x86_64 and aarch64.

/// The eight bytes at `at`, the first in the low byte, or `None` near the end of `bytes`.
#[inline(always)]
pub(crate) fn load(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// How many of `word`'s bytes, from the first, are ASCII digits (0 to 8).
#[inline(always)]
pub(crate) fn leading_digits(word: u64) -> usize {
    // Digits become 0..=9. Adding 0x76 sets the high bit of any byte of 10 or more (a carry out
    // of a byte of 0x8a or more disturbs only the bytes after it, which no longer count); a
    // byte with its high bit already set is not a digit either.
    let x = word ^ 0x3030_3030_3030_3030;
    let not_digits = (x.wrapping_add(0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080;
    (not_digits.trailing_zeros() / 8) as usize
}

/// The value of the first `n` bytes of `word` (1 to 8), which are ASCII digits.
#[inline(always)]
pub(crate) fn digits_value(word: u64, n: usize) -> u64 {
    debug_assert!((1..=8).contains(&n));
    let mut x = word ^ 0x3030_3030_3030_3030;
    if n < 8 {
        // The digits moved to the end of the word, zeros (digit 0) before them.
        x = (x & ((1 << (8 * n)) - 1)) << (8 * (8 - n));
    }
    // Pairs, then fours, then all eight: each step multiplies the higher half by 10, 100 or
    // 10,000 and adds the lower (the first digit is the most significant).
    x = (x.wrapping_mul(10 << 8 | 1) >> 8) & 0x00ff_00ff_00ff_00ff;
    x = (x.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_ffff_0000_ffff;
    x.wrapping_mul(10_000 << 32 | 1) >> 32
}

/// The run of ASCII digits at the start of `digits` and its value, eight digits at a time, if
/// it has fewer than 16 digits and eight bytes can be read past each group; `None` otherwise.
#[inline(always)]
pub(crate) fn digit_run(digits: &[u8]) -> Option<(usize, u64)> {
    let word = load(digits, 0)?;
    let n = leading_digits(word);
    if n < 8 {
        return Some((n, if n == 0 { 0 } else { digits_value(word, n) }));
    }
    let next = load(digits, 8)?;
    let more = leading_digits(next);
    if more == 8 {
        return None;
    }
    let high = digits_value(word, 8);
    Some((8 + more, if more == 0 { high } else { high * POW10[more] + digits_value(next, more) }))
}

/// The end of the run of ASCII digits that starts at `at`.
#[inline(always)]
pub(crate) fn digits_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(word) = load(bytes, at) {
        let n = leading_digits(word);
        at += n;
        if n < 8 {
            return at;
        }
    }
    while bytes.get(at).is_some_and(u8::is_ascii_digit) {
        at += 1;
    }
    at
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that ends a plain JSON string: `"`, `\\` or a control
/// character. Only the lowest set bit is exact (a borrow can mark bytes after it).
#[inline(always)]
fn string_stops(word: u64) -> u64 {
    // With bit 1 flipped, `"` (0x22) becomes 0x20 and control characters stay below 0x20: one
    // "below 0x21" test finds both. A byte with its high bit set is never marked (`!y`).
    let y = word ^ (LO * 0x02);
    let below = y.wrapping_sub(LO * 0x21) & !y;
    let z = word ^ (LO * u64::from(b'\\'));
    let backslash = z.wrapping_sub(LO) & !z;
    (below | backslash) & HI
}

/// The index of the first `"`, `\\` or control character at or after `at`, or `bytes.len()`.
#[inline(always)]
pub(crate) fn string_stop(bytes: &[u8], mut at: usize) -> usize {
    while let Some(word) = load(bytes, at) {
        let found = string_stops(word);
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&c) = bytes.get(at) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return at;
        }
        at += 1;
    }
    at.max(bytes.len())
}

/// 10 to the power of `n`, for `n` up to 8.
pub(crate) const POW10: [u64; 9] =
    [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &[u8]) -> u64 {
        let mut bytes = [b' '; 8];
        bytes[..text.len()].copy_from_slice(text);
        u64::from_le_bytes(bytes)
    }

    #[test]
    fn digit_runs() {
        assert_eq!(leading_digits(word(b"12345678")), 8);
        assert_eq!(leading_digits(word(b"1234,")), 4);
        assert_eq!(leading_digits(word(b"-1")), 0);
        assert_eq!(leading_digits(word(b"")), 0);
        // Bytes around the digits' range, and bytes whose carry could spill.
        for stop in [b'/', b':', 0x00, 0x80, 0x89, 0x8a, 0xb0, 0xb9, 0xff] {
            for at in 0..8 {
                let mut bytes = *b"99999999";
                bytes[at] = stop;
                assert_eq!(leading_digits(u64::from_le_bytes(bytes)), at, "{stop:#x} at {at}");
            }
        }
    }

    #[test]
    fn digit_values() {
        assert_eq!(digits_value(word(b"12345678"), 8), 12_345_678);
        assert_eq!(digits_value(word(b"99999999"), 8), 99_999_999);
        assert_eq!(digits_value(word(b"00000001"), 8), 1);
        for n in 1..=8 {
            let text = b"98765432";
            let expected: u64 = std::str::from_utf8(&text[..n]).unwrap().parse().unwrap();
            assert_eq!(digits_value(word(text), n), expected);
            assert_eq!(digits_value(word(&text[..n]), n), expected);
        }
        assert_eq!(POW10[8], 10u64.pow(8));
    }

    #[test]
    fn string_stops_are_found() {
        let is_stop = |c: u8| c == b'"' || c == b'\\' || c < 0x20;
        // Every byte value at every position of a word, and in the tail.
        for len in [8, 11, 16, 21] {
            for at in 0..len {
                for byte in 0..=255u8 {
                    for filler in [b'a', 0x80 | b'"', 0x21, 0xff] {
                        let mut text = vec![filler; len];
                        text[at] = byte;
                        let expected = text.iter().position(|&c| is_stop(c)).unwrap_or(len);
                        assert_eq!(string_stop(&text, 0), expected, "{text:?}");
                        if at > 0 {
                            assert_eq!(string_stop(&text, 1), expected.max(1), "{text:?}");
                        }
                    }
                }
            }
        }
        assert_eq!(string_stop(b"abc", 3), 3);
        assert_eq!(string_stop(b"abc", 4), 4, "past the end: nothing to read");
    }

    #[test]
    fn runs() {
        let text = b"1234567890123456789,\"tail..........";
        for start in 0..19 {
            let digits = &text[start..];
            let end = 19 - start;
            assert_eq!(digits_end(text, start), 19);
            let expected: u64 = std::str::from_utf8(&digits[..end]).unwrap().parse().unwrap();
            match digit_run(digits) {
                Some(run) => assert_eq!(run, (end, expected)),
                None => assert!(end >= 16),
            }
        }
        assert_eq!(digit_run(b"12"), None, "fewer than eight bytes");
        assert_eq!(digit_run(b"x......."), Some((0, 0)));
        assert_eq!(digits_end(b"12", 0), 2);
        assert_eq!(digits_end(b"123456789", 0), 9);
        assert_eq!(digits_end(b"12345678", 0), 8);
    }
}
