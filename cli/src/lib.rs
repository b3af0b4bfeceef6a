//! The library behind the `msk-lambda` command (not published, no stable API): the event writer,
//! the Kafka client, the function host (a Runtime API on loopback) and the poller. The
//! integration tests use the Kafka client to set up topics and read offsets from the broker.

#![forbid(unsafe_code)]
#![allow(missing_docs)]

pub mod event;
pub mod function;
pub mod kafka;
pub mod poll;
