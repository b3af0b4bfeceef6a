//! A text consumer: each record's value is one log line (UTF-8), its key raw bytes.
//!
//! Lines are independent, so a bad line should not hold back the rest of its partition:
//! `failure = "continue"` runs every record and reports each failed one.
//!
//! Run it: `cargo run -p log-lines -- examples/log-lines/events/sample.json`

#![forbid(unsafe_code)]

use msk_lambda::bytes::Bytes;
use msk_lambda::{msk_handler, Record};

/// Longest line accepted, in bytes.
pub const MAX_LINE: usize = 8 * 1024;

/// Checks and forwards one log line; the key (host id, binary) is read as raw bytes.
#[msk_handler(failure = "continue")]
async fn handle(record: Record<String, Option<Bytes>>) -> Result<(), msk_lambda::Error> {
    let line = record.value();
    if line.trim().is_empty() {
        return Err("empty log line".into());
    }
    if line.len() > MAX_LINE {
        return Err(format!("log line of {} bytes is over {MAX_LINE}", line.len()).into());
    }
    let host = record.key().as_ref().map_or(0, Bytes::len);
    tracing::debug!(bytes = line.len(), host_key_len = host, "log line");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use msk_lambda::testing::TestRecord;

    #[tokio::test]
    async fn lines_and_binary_keys() {
        let record = TestRecord::new("logs", 0, 1).key([0u8, 159, 146, 150]).value("GET /x 200");
        handle(record.decode().unwrap()).await.unwrap();
        let empty = TestRecord::new("logs", 0, 2).value("  ");
        assert_eq!(
            handle(empty.decode().unwrap()).await.unwrap_err().to_string(),
            "empty log line"
        );
    }

    #[test]
    fn invalid_utf8_fails_decoding_with_a_reason() {
        let failure =
            TestRecord::new("logs", 0, 3).value([0x66, 0xff]).decode::<String, ()>().unwrap_err();
        assert_eq!(
            failure.to_string(),
            "decode: the value could not be decoded as `String`: not valid UTF-8 text (first invalid byte at index 1); use Vec<u8> or bytes::Bytes for binary data"
        );
    }
}
