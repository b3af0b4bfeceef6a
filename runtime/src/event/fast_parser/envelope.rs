//! The envelope (`eventSource`, `eventSourceArn`, `bootstrapServers`, `records`) and the
//! `records` object.

use std::borrow::Cow;

use serde::de::IgnoredAny;

use super::{once, Parser};
use crate::event::wire::{PartitionBatch, PartitionMap, Text, Wire};

impl<'a> Parser<'a> {
    pub(super) fn envelope(&mut self) -> Option<Wire<'a>> {
        let (mut source, mut arn, mut servers) = (None, None, None);
        let mut records = None;
        let mut upper = None;
        self.object(|p, key| match key {
            b"eventSource" => once(&mut source, p.opt_text()?),
            b"eventSourceArn" => once(&mut arn, p.opt_text()?),
            b"bootstrapServers" => once(&mut servers, p.opt_text()?),
            b"records" => {
                let map = if p.null() { None } else { Some(p.partitions()?) };
                once(&mut records, map)
            }
            b"Records" => {
                let value = if p.null() {
                    None
                } else {
                    p.skip(1)?;
                    Some(IgnoredAny)
                };
                once(&mut upper, value)
            }
            _ => p.other(key, 1),
        })?;
        Some(Wire {
            event_source: source.flatten(),
            event_source_arn: arn.flatten(),
            bootstrap_servers: servers.flatten(),
            records: records.flatten(),
            upper_records: upper.flatten(),
            headers: std::mem::take(&mut self.headers),
        })
    }

    pub(super) fn partitions(&mut self) -> Option<PartitionMap<'a>> {
        let mut partitions = Vec::new();
        // How many records the last partition had: the next is sized like it (plus a quarter),
        // not for the whole rest of the event, where partitions are many.
        let mut last_len: Option<usize> = None;
        self.object(|p, key| {
            let key = std::str::from_utf8(key).ok()?;
            p.expect(b'[')?;
            let mut records = Vec::new();
            let mut topic = "";
            if !p.eat(b']') {
                // Sized for the records the rest of the event can hold, judging by the size of
                // the first, so the list is not copied again and again as it grows; what this
                // partition does not use is given back (in place, no copy). After the first
                // partition, no larger than a quarter over the last one: a list sized for the
                // whole rest is a mapping of its own, and 64 of them cost a page fault each.
                let start = p.at;
                let (first_topic, first) = p.record()?;
                topic = first_topic;
                let rest = (p.json.len() - p.at) / (p.at - start).max(40) + 1;
                let estimate = last_len.map_or(rest, |last| rest.min(last + last / 4 + 1));
                records.reserve_exact(estimate);
                records.push(first);
                loop {
                    if p.eat(b']') {
                        break;
                    }
                    p.expect(b',')?;
                    let (own_topic, record) = p.record()?;
                    // A list that mixes topics is an error, which the general parser words.
                    if !std::ptr::eq(own_topic, topic) && own_topic != topic {
                        return None;
                    }
                    records.push(record);
                }
                if records.capacity() > records.len() + records.len() / 4 {
                    records.shrink_to_fit();
                }
                last_len = Some(records.len());
            }
            partitions.push(PartitionBatch {
                key: Text(Cow::Borrowed(key)),
                topic: Text(Cow::Borrowed(topic)),
                other_topic: None,
                records,
                headers: bytes::Bytes::new(),
            });
            Some(())
        })?;
        Some(PartitionMap(partitions))
    }

    /// An optional string field (`null` or a plain string).
    pub(super) fn opt_text(&mut self) -> Option<Option<Text<'a>>> {
        if self.null() {
            return Some(None);
        }
        Some(Some(Text(Cow::Borrowed(self.text()?))))
    }
}
