//! A small Kafka client on the `kafka-protocol` codec: one TCP connection per broker, the
//! requests `msk-lambda` needs (Metadata, ListOffsets, Fetch, FindCoordinator, OffsetFetch,
//! OffsetCommit with manual assignment, CreateTopics, Produce), fixed protocol versions that
//! Kafka 2.7 and later and tansu 0.6 all accept.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::{
    create_topics_request::CreatableTopic,
    fetch_request::{FetchPartition, FetchTopic},
    list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic},
    metadata_request::MetadataRequestTopic,
    offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic},
    offset_fetch_request::OffsetFetchRequestTopic,
    produce_request::{PartitionProduceData, TopicProduceData},
    BrokerId, CreateTopicsRequest, FetchRequest, FindCoordinatorRequest, GroupId,
    ListOffsetsRequest, MetadataRequest, OffsetCommitRequest, OffsetFetchRequest, ProduceRequest,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

const METADATA_VERSION: i16 = 9;
const LIST_OFFSETS_VERSION: i16 = 5;
/// Fetch v11: topics by name (13 and later use ids), no tagged fields (tansu 0.6 answers v12
/// with tags that kafka-protocol 0.18 rejects for v12).
const FETCH_VERSION: i16 = 11;
const FIND_COORDINATOR_VERSION: i16 = 3;
/// The last OffsetFetch version with one group per request.
const OFFSET_FETCH_VERSION: i16 = 7;
const OFFSET_COMMIT_VERSION: i16 = 8;
const CREATE_TOPICS_VERSION: i16 = 5;
const PRODUCE_VERSION: i16 = 9;

/// One connection to one broker; requests on it are sequential.
struct Conn {
    stream: TcpStream,
    correlation: i32,
}

impl Conn {
    async fn connect(address: &str) -> Result<Conn> {
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(address))
            .await
            .map_err(|_| anyhow!("connecting to the broker {address} timed out"))?
            .with_context(|| format!("cannot connect to the broker {address}"))?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, correlation: 0 })
    }

    async fn send<R: Request>(&mut self, request: &R, version: i16) -> Result<R::Response> {
        self.correlation = self.correlation.wrapping_add(1);
        let mut header = RequestHeader::default();
        header.request_api_key = R::KEY;
        header.request_api_version = version;
        header.correlation_id = self.correlation;
        header.client_id = Some(StrBytes::from_static_str("msk-lambda"));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header.encode(&mut buf, R::header_version(version))?;
        request.encode(&mut buf, version)?;
        let len = i32::try_from(buf.len() - 4)?;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).await?;
        let len = self.stream.read_i32().await?;
        let mut body = vec![0; usize::try_from(len)?];
        self.stream.read_exact(&mut body).await?;
        let mut body = Bytes::from(body);
        let header = ResponseHeader::decode(&mut body, R::Response::header_version(version))?;
        if header.correlation_id != self.correlation {
            bail!(
                "the broker answered request {} to request {}",
                header.correlation_id,
                self.correlation
            );
        }
        R::Response::decode(&mut body, version)
    }
}

/// A fetched record, with what the Lambda event needs.
#[derive(Debug, Clone)]
pub struct FetchedRecord {
    pub offset: i64,
    pub timestamp: i64,
    pub timestamp_type: TimestampType,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// What one Fetch of one partition returned.
#[derive(Debug, Default)]
pub struct Fetched {
    pub records: Vec<FetchedRecord>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// One past the last offset of the whole batches read, control records (transaction
    /// markers) included: where the next fetch starts even when nothing but a marker came.
    pub next_offset: Option<i64>,
}

/// A record to produce.
#[derive(Debug, Clone, Default)]
pub struct OutRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Bytes)>,
    pub timestamp: i64,
}

/// A client of one cluster (or one tansu broker).
pub struct Client {
    bootstrap: Vec<String>,
    conns: Mutex<HashMap<String, Arc<Mutex<Conn>>>>,
    /// Leader address per (topic, partition).
    leaders: Mutex<HashMap<(String, i32), String>>,
    coordinators: Mutex<HashMap<String, String>>,
}

fn check(code: i16, what: &str) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    match ResponseError::try_from_code(code) {
        Some(e) => bail!("{what}: {e:?} (Kafka error code {code})"),
        None => bail!("{what}: Kafka error code {code}"),
    }
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

impl Client {
    /// A client of the cluster behind `bootstrap_servers` (`HOST:PORT[,HOST:PORT...]`).
    pub fn new(bootstrap_servers: &str) -> Client {
        Client {
            bootstrap: bootstrap_servers.split(',').map(|s| s.trim().to_owned()).collect(),
            conns: Mutex::default(),
            leaders: Mutex::default(),
            coordinators: Mutex::default(),
        }
    }

    async fn conn(&self, address: &str) -> Result<Arc<Mutex<Conn>>> {
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(address) {
            return Ok(c.clone());
        }
        let c = Arc::new(Mutex::new(Conn::connect(address).await?));
        conns.insert(address.to_owned(), c.clone());
        Ok(c)
    }

    /// Sends `request` to `address`; a broken connection is dropped and tried once more.
    async fn send<R: Request>(
        &self,
        address: &str,
        request: &R,
        version: i16,
    ) -> Result<R::Response> {
        for attempt in 0..2 {
            let conn = self.conn(address).await?;
            let result = conn.lock().await.send(request, version).await;
            match result {
                Ok(r) => return Ok(r),
                Err(e) if attempt == 0 && e.downcast_ref::<std::io::Error>().is_some() => {
                    self.conns.lock().await.remove(address);
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!()
    }

    async fn any_broker(&self) -> Result<String> {
        let mut last = None;
        for b in &self.bootstrap {
            match self.conn(b).await {
                Ok(_) => return Ok(b.clone()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("no bootstrap server given")))
    }

    /// The partitions of `topic`, ascending; records their leaders.
    pub async fn partitions(&self, topic: &str) -> Result<Vec<i32>> {
        let broker = self.any_broker().await?;
        let mut t = MetadataRequestTopic::default();
        t.name = Some(topic_name(topic));
        let mut req = MetadataRequest::default();
        req.topics = Some(vec![t]);
        req.allow_auto_topic_creation = false;
        let resp = self.send(&broker, &req, METADATA_VERSION).await?;
        let brokers: HashMap<i32, String> =
            resp.brokers.iter().map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port))).collect();
        let t = resp
            .topics
            .iter()
            .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == topic))
            .ok_or_else(|| anyhow!("the broker did not describe topic {topic}"))?;
        check(t.error_code, &format!("topic {topic}"))?;
        let mut leaders = self.leaders.lock().await;
        let mut out = Vec::new();
        for p in &t.partitions {
            let leader = brokers.get(&p.leader_id.0).cloned().unwrap_or_else(|| broker.clone());
            leaders.insert((topic.to_owned(), p.partition_index), leader);
            out.push(p.partition_index);
        }
        out.sort_unstable();
        Ok(out)
    }

    async fn leader(&self, topic: &str, partition: i32) -> Result<String> {
        if let Some(l) = self.leaders.lock().await.get(&(topic.to_owned(), partition)) {
            return Ok(l.clone());
        }
        self.partitions(topic).await?;
        self.leaders
            .lock()
            .await
            .get(&(topic.to_owned(), partition))
            .cloned()
            .ok_or_else(|| anyhow!("partition {partition} of {topic} has no leader"))
    }

    /// The earliest (`-2`) or latest (`-1`) offset of a partition.
    pub async fn list_offset(&self, topic: &str, partition: i32, at: i64) -> Result<i64> {
        let leader = self.leader(topic, partition).await?;
        let mut p = ListOffsetsPartition::default();
        p.partition_index = partition;
        p.timestamp = at;
        p.current_leader_epoch = -1;
        let mut t = ListOffsetsTopic::default();
        t.name = topic_name(topic);
        t.partitions = vec![p];
        let mut req = ListOffsetsRequest::default();
        req.replica_id = BrokerId(-1);
        req.topics = vec![t];
        let resp = self.send(&leader, &req, LIST_OFFSETS_VERSION).await?;
        let p = resp
            .topics
            .first()
            .and_then(|t| t.partitions.first())
            .ok_or_else(|| anyhow!("empty ListOffsets response"))?;
        check(p.error_code, &format!("ListOffsets {topic}-{partition}"))?;
        Ok(p.offset)
    }

    /// Records of one partition from `offset` on (control records left out), waiting up to
    /// `max_wait` for some to arrive.
    pub async fn fetch(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        max_bytes: i32,
        max_wait: Duration,
    ) -> Result<Fetched> {
        let leader = self.leader(topic, partition).await?;
        let mut p = FetchPartition::default();
        p.partition = partition;
        p.fetch_offset = offset;
        p.partition_max_bytes = max_bytes;
        p.current_leader_epoch = -1;
        p.last_fetched_epoch = -1;
        p.log_start_offset = -1;
        let mut t = FetchTopic::default();
        t.topic = topic_name(topic);
        t.partitions = vec![p];
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        req.max_wait_ms = i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX);
        req.min_bytes = 1;
        req.max_bytes = max_bytes;
        req.isolation_level = 0;
        req.session_id = 0;
        req.session_epoch = -1;
        req.topics = vec![t];
        let resp = self.send(&leader, &req, FETCH_VERSION).await?;
        check(resp.error_code, "Fetch")?;
        let Some(p) = resp.responses.first().and_then(|t| t.partitions.first()) else {
            return Ok(Fetched::default());
        };
        check(p.error_code, &format!("Fetch {topic}-{partition} at {offset}"))?;
        let mut out = Fetched {
            records: Vec::new(),
            high_watermark: p.high_watermark,
            log_start_offset: p.log_start_offset,
            next_offset: None,
        };
        if let Some(records) = &p.records {
            let (records, next_offset) = decode_records(records, offset).with_context(|| {
                format!(
                    "cannot read the records of {topic}-{partition} from offset {offset} \
                     (lz4 and zstd need the CLI's `lz4` / `zstd` features)"
                )
            })?;
            out.records = records;
            out.next_offset = next_offset;
        }
        Ok(out)
    }

    async fn coordinator(&self, group: &str) -> Result<String> {
        if let Some(c) = self.coordinators.lock().await.get(group) {
            return Ok(c.clone());
        }
        let broker = self.any_broker().await?;
        let mut req = FindCoordinatorRequest::default();
        req.key = StrBytes::from_string(group.to_owned());
        req.key_type = 0;
        let resp = self.send(&broker, &req, FIND_COORDINATOR_VERSION).await?;
        check(resp.error_code, &format!("FindCoordinator {group}"))?;
        let address = format!("{}:{}", resp.host, resp.port);
        self.coordinators.lock().await.insert(group.to_owned(), address.clone());
        Ok(address)
    }

    /// The group's committed offsets of `topic`'s `partitions` (`None` where nothing is committed).
    pub async fn committed(
        &self,
        group: &str,
        topic: &str,
        partitions: &[i32],
    ) -> Result<HashMap<i32, Option<i64>>> {
        let coordinator = self.coordinator(group).await?;
        let mut t = OffsetFetchRequestTopic::default();
        t.name = topic_name(topic);
        t.partition_indexes = partitions.to_vec();
        let mut req = OffsetFetchRequest::default();
        req.group_id = GroupId(StrBytes::from_string(group.to_owned()));
        req.topics = Some(vec![t]);
        let resp = self.send(&coordinator, &req, OFFSET_FETCH_VERSION).await?;
        check(resp.error_code, &format!("OffsetFetch {group}"))?;
        let mut out: HashMap<i32, Option<i64>> = partitions.iter().map(|&p| (p, None)).collect();
        for t in &resp.topics {
            for p in &t.partitions {
                check(p.error_code, &format!("OffsetFetch {group} {topic}-{}", p.partition_index))?;
                if p.committed_offset >= 0 {
                    out.insert(p.partition_index, Some(p.committed_offset));
                }
            }
        }
        Ok(out)
    }

    /// Commits `offsets` (next offset to read, per topic-partition) for `group`, without group
    /// membership (generation -1, no member id: manual assignment, as a standalone consumer).
    pub async fn commit(&self, group: &str, offsets: &[(String, i32, i64)]) -> Result<()> {
        let coordinator = self.coordinator(group).await?;
        let mut topics: IndexMap<String, Vec<OffsetCommitRequestPartition>> = IndexMap::new();
        for (topic, partition, offset) in offsets {
            let mut p = OffsetCommitRequestPartition::default();
            p.partition_index = *partition;
            p.committed_offset = *offset;
            p.committed_leader_epoch = -1;
            p.committed_metadata = Some(StrBytes::from_static_str(""));
            topics.entry(topic.clone()).or_default().push(p);
        }
        let mut req = OffsetCommitRequest::default();
        req.group_id = GroupId(StrBytes::from_string(group.to_owned()));
        req.generation_id_or_member_epoch = -1;
        req.member_id = StrBytes::from_static_str("");
        req.topics = topics
            .into_iter()
            .map(|(name, partitions)| {
                let mut t = OffsetCommitRequestTopic::default();
                t.name = topic_name(&name);
                t.partitions = partitions;
                t
            })
            .collect();
        let resp = self.send(&coordinator, &req, OFFSET_COMMIT_VERSION).await?;
        for t in &resp.topics {
            for p in &t.partitions {
                check(
                    p.error_code,
                    &format!("OffsetCommit {group} {}-{}", t.name.0, p.partition_index),
                )?;
            }
        }
        Ok(())
    }

    /// Creates a topic (no error when it exists already).
    pub async fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        let broker = self.any_broker().await?;
        let mut t = CreatableTopic::default();
        t.name = topic_name(topic);
        t.num_partitions = partitions;
        t.replication_factor = -1;
        let mut req = CreateTopicsRequest::default();
        req.topics = vec![t];
        req.timeout_ms = 30_000;
        let resp = self.send(&broker, &req, CREATE_TOPICS_VERSION).await?;
        for t in &resp.topics {
            // 36: TOPIC_ALREADY_EXISTS
            if t.error_code != 36 {
                check(t.error_code, &format!("CreateTopics {topic}"))?;
            }
        }
        Ok(())
    }

    /// Produces `records` to one partition as one record batch; returns the base offset.
    pub async fn produce(&self, topic: &str, partition: i32, records: &[OutRecord]) -> Result<i64> {
        let leader = self.leader(topic, partition).await?;
        let records: Vec<Record> = records
            .iter()
            .enumerate()
            .map(|(i, r)| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: r.timestamp,
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| (StrBytes::from_string(k.clone()), Some(v.clone())))
                    .collect(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions { version: 2, compression: Compression::None },
        )?;
        let mut p = PartitionProduceData::default();
        p.index = partition;
        p.records = Some(buf.freeze());
        let mut t = TopicProduceData::default();
        t.name = topic_name(topic);
        t.partition_data = vec![p];
        let mut req = ProduceRequest::default();
        req.acks = -1;
        req.timeout_ms = 30_000;
        req.topic_data = vec![t];
        let resp = self.send(&leader, &req, PRODUCE_VERSION).await?;
        let p = resp
            .responses
            .first()
            .and_then(|t| t.partition_responses.first())
            .ok_or_else(|| anyhow!("empty Produce response"))?;
        check(p.error_code, &format!("Produce {topic}-{partition}"))?;
        Ok(p.base_offset)
    }
}

/// The records at or after `offset` in the whole batches of a fetch response's record data
/// (control records left out), and one past the last offset read, control records included.
///
/// A batch whose timestamps the broker set (`LOG_APPEND_TIME`, bit 3 of its attributes) gives
/// every record the batch's `maxTimestamp`, the append time, as Kafka's own consumer does: the
/// records' own deltas are still the producer's. The decoder does not, so it is done here.
fn decode_records(data: &Bytes, offset: i64) -> Result<(Vec<FetchedRecord>, Option<i64>)> {
    let mut records = Vec::new();
    let mut next_offset = None;
    let mut rest = data.slice(..whole_batches(data));
    while !rest.is_empty() {
        let len = 12 + (&rest[8..12]).get_i32() as usize;
        let mut batch = rest.split_to(len);
        // baseOffset 8, batchLength 4, partitionLeaderEpoch 4, magic 1, crc 4, attributes 2,
        // lastOffsetDelta 4, baseTimestamp 8, maxTimestamp 8.
        let append_time = (batch.len() >= 43 && batch[16] == 2 && batch[22] & 0x08 != 0)
            .then(|| (&batch[35..43]).get_i64());
        for set in RecordBatchDecoder::decode_all(&mut batch)? {
            for r in set.records {
                next_offset = Some(next_offset.unwrap_or(offset).max(r.offset + 1));
                if r.control || r.offset < offset {
                    continue;
                }
                records.push(FetchedRecord {
                    offset: r.offset,
                    timestamp: append_time.unwrap_or(r.timestamp),
                    timestamp_type: r.timestamp_type,
                    key: r.key,
                    value: r.value,
                    headers: r
                        .headers
                        .into_iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v))
                        .collect(),
                });
            }
        }
    }
    Ok((records, next_offset))
}

/// The length of the whole record batches at the start of `buf` (a fetch response may end
/// with a truncated one).
fn whole_batches(buf: &Bytes) -> usize {
    let mut at = 0;
    let mut b = &buf[..];
    // batch: baseOffset i64, batchLength i32, then batchLength bytes
    while b.len() >= 12 {
        let mut head = &b[8..12];
        let len = head.get_i32();
        let Ok(len) = usize::try_from(len) else { break };
        if b.len() < 12 + len {
            break;
        }
        at += 12 + len;
        b = &b[12 + len..];
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record batches of these offsets, made by kafka-protocol's encoder (it may write one per
    /// record).
    fn batch(offsets: &[i64], control: bool) -> BytesMut {
        let records: Vec<Record> = offsets
            .iter()
            .map(|&offset| Record {
                transactional: control,
                control,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: if control { 7 } else { -1 },
                producer_epoch: if control { 0 } else { -1 },
                timestamp_type: TimestampType::Creation,
                offset,
                sequence: -1,
                timestamp: 1_700_000_000_000,
                key: None,
                // A control record's value: version 0, type 1 (commit), coordinator epoch 0.
                value: Some(Bytes::from_static(if control { &[0, 0, 0, 0, 0, 0] } else { b"v" })),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions { version: 2, compression: Compression::None };
        RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
        buf
    }

    /// Batches of the broker's time: `LOG_APPEND_TIME` set, `maxTimestamp` the append time
    /// (the records keep the producer's timestamps), each batch's CRC made again.
    fn appended_at(mut data: BytesMut, append_time: i64) -> BytesMut {
        let mut at = 0;
        while at < data.len() {
            let batch = &mut data[at..];
            let len = 12 + (&batch[8..12]).get_i32() as usize;
            let batch = &mut batch[..len];
            batch[22] |= 0x08;
            batch[35..43].copy_from_slice(&append_time.to_be_bytes());
            let crc = crc32c::crc32c(&batch[21..]);
            batch[17..21].copy_from_slice(&crc.to_be_bytes());
            at += len;
        }
        data
    }

    /// Records of a `LOG_APPEND_TIME` batch carry the append time, as Kafka's consumer gives
    /// them; a `CREATE_TIME` batch next to it keeps each record's own.
    #[test]
    fn log_append_time_batches_give_the_append_time() {
        let mut data = appended_at(batch(&[0, 1], false), 1_800_000_000_000);
        data.extend_from_slice(&batch(&[2], false));
        let (records, next) = decode_records(&data.freeze(), 0).unwrap();
        let seen: Vec<_> =
            records.iter().map(|r| (r.offset, r.timestamp, r.timestamp_type)).collect();
        assert_eq!(
            seen,
            [
                (0, 1_800_000_000_000, TimestampType::LogAppend),
                (1, 1_800_000_000_000, TimestampType::LogAppend),
                (2, 1_700_000_000_000, TimestampType::Creation),
            ]
        );
        assert_eq!(next, Some(3));
    }

    fn offsets(records: &[FetchedRecord]) -> Vec<i64> {
        records.iter().map(|r| r.offset).collect()
    }

    /// A log that ends in a transaction marker: the marker is not a record, but the next fetch
    /// starts past it (before, a partition whose last batch was a marker was fetched again and
    /// again and never went idle).
    #[test]
    fn control_records_are_skipped_and_moved_past() {
        let mut data = batch(&[5, 6], false);
        data.extend_from_slice(&batch(&[7], true));
        let data = data.freeze();
        let (records, next) = decode_records(&data, 5).unwrap();
        assert_eq!((offsets(&records), next), (vec![5, 6], Some(8)));
        let marker = batch(&[7], true).freeze();
        let (records, next) = decode_records(&marker, 7).unwrap();
        assert_eq!((offsets(&records), next), (vec![], Some(8)));
        // Records before the offset asked for (a batch that starts earlier) are left out.
        let (records, next) = decode_records(&data, 6).unwrap();
        assert_eq!((offsets(&records), next), (vec![6], Some(8)));
        // A truncated last batch is not read, and not moved past.
        let cut = data.slice(..data.len() - 10);
        let (records, next) = decode_records(&cut, 5).unwrap();
        assert_eq!((offsets(&records), next), (vec![5, 6], Some(7)));
        assert_eq!(decode_records(&Bytes::new(), 5).unwrap().1, None);
    }
}
