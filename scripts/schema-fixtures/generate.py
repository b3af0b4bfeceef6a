#!/usr/bin/env python3
"""Writes the schema-registry test fixtures of issue 12 into tests/fixtures/schema-registry/.

usage: ~/.cache/msk-lambda/schema-venv/bin/python scripts/schema-fixtures/generate.py [OUT_DIR]

Every framed byte string in cases.json comes from a reference serializer, run here:
  - Confluent: confluent-kafka 2.16.1 (AvroSerializer, ProtobufSerializer, JSONSerializer)
    against its in-process mock registry (`mock://`), and decoded back with its deserializers;
  - Glue Avro / JSON Schema: aws-glue-schema-registry 1.1.3 (KafkaSerializer, codec.encode)
    against moto 5.2.5's Glue API served by ThreadedMotoServer on 127.0.0.1;
  - Avro datums: fastavro 1.13.1 (what both serializers call), fingerprints: Apache `avro` 1.12.2;
  - Protobuf messages: protobuf 7.36.2 with classes compiled by grpcio-tools 1.85.1's protoc.
Three framings are built by hand because no installed library writes them, each citing its layout:
Glue Protobuf (no Python Glue library has Protobuf), Avro single-object encoding, and the
ESM's SOURCE mode (what Lambda hands the function after its registry integration stripped the
prefix: a slice of the serializer's bytes).

Deterministic: Confluent GUIDs (uuid4 in the mock registry) and moto's version ids come from
seeded generators, ids are assigned in a fixed registration order, so re-running gives
byte-identical files. Run `git diff --exit-code tests/fixtures/schema-registry` after it.
"""
import base64
import io
import json
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import types
import uuid
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures" / "schema-registry"

# --------------------------------------------------------------------------------------------
# Schemas (written to OUT first; every serializer below reads its schema from these files)
# --------------------------------------------------------------------------------------------
ORDER_V1 = '{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"orderId","type":"string"},{"name":"amountCents","type":"long"},{"name":"currency","type":"string"}]}'
# The reader schema of the orders-avro example, byte for byte as issue 12 gives it.
ORDER_V2 = '{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"orderId","type":"string"},{"name":"amountCents","type":"long"},{"name":"currency","type":"string"},{"name":"note","type":["null","string"],"default":null}]}'
ORDER_V3 = '{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"orderId","type":"string"},{"name":"amountCents","type":"long"},{"name":"currency","type":"string"},{"name":"note","type":["null","string"],"default":null},{"name":"channel","type":"string"}]}'
ORDER_BAD = '{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"orderId","type":"string"},{"name":"amountCents","type":"string"},{"name":"currency","type":"string"}]}'
CUSTOMER_KEY = '{"type":"record","name":"CustomerKey","namespace":"shop","fields":[{"name":"customerId","type":"string"}]}'

ORDER_JSON_SCHEMA = json.dumps(
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Order",
        "type": "object",
        "properties": {
            "orderId": {"type": "string"},
            "amountCents": {"type": "integer"},
            "currency": {"type": "string", "minLength": 3, "maxLength": 3},
            "note": {"type": ["string", "null"]},
        },
        "required": ["orderId", "amountCents", "currency"],
        "additionalProperties": False,
    },
    separators=(",", ":"),
)

SHOP_PROTO = """syntax = "proto3";
package shop;

// Confluent message indexes (position in the file, then nested position):
//   shop.Order = [0], shop.Order.LineItem = [0,0], shop.Order.Discount = [0,1],
//   shop.Order.Shipping = [0,2], shop.Customer = [1].
// Glue flat indexes (all full names sorted, MessageIndexFinder.java):
//   shop.Customer = 0, shop.Order = 1, shop.Order.Discount = 2, shop.Order.LineItem = 3,
//   shop.Order.Shipping = 4.
message Order {
  string order_id = 1;
  int64 amount_cents = 2;
  string currency = 3;
  message LineItem {
    string sku = 1;
    int32 quantity = 2;
  }
  message Discount {
    string code = 1;
    int64 amount_cents = 2;
  }
  message Shipping {
    string carrier = 1;
    string tracking_id = 2;
    int64 cost_cents = 3;
  }
  repeated LineItem items = 4;
  Shipping shipping = 5;
}

message Customer {
  string customer_id = 1;
  string email = 2;
}
"""

MANY_COUNT = 130  # M000..M129: Confluent [64] needs a two-byte zigzag varint, Glue 129 a two-byte uvarint


def many_proto() -> str:
    lines = [
        'syntax = "proto3";',
        "package shop.many;",
        "",
        f"// {MANY_COUNT} top-level messages. Confluent index of Mnnn = [nnn]; Glue flat index of",
        "// Mnnn = nnn too (the zero-padded names sort in declaration order).",
    ]
    for i in range(MANY_COUNT):
        lines.append(f"message M{i:03d} {{ string order_id = 1; int64 amount_cents = {i + 2}; }}")
    return "\n".join(lines) + "\n"


def write_schema_files():
    OUT.mkdir(parents=True, exist_ok=True)
    files = {
        "order-v1.avsc": ORDER_V1,
        "order-v2.avsc": ORDER_V2,
        "order-v3.avsc": ORDER_V3,
        "order-bad.avsc": ORDER_BAD,
        "customer-key.avsc": CUSTOMER_KEY,
        "order.schema.json": ORDER_JSON_SCHEMA,
        "shop.proto": SHOP_PROTO,
        "many.proto": many_proto(),
    }
    for name, text in files.items():
        if not text.endswith("\n"):
            text += "\n"
        (OUT / name).write_text(text)


def schema_text(name: str) -> str:
    """The schema exactly as the serializers get it: the file's text without the final newline."""
    return (OUT / name).read_text().rstrip("\n")


# --------------------------------------------------------------------------------------------
# Determinism: seeded uuid4 for the Confluent mock registry's GUIDs
# --------------------------------------------------------------------------------------------
_guid_rng = random.Random(20261127)


def _seeded_uuid4():
    return uuid.UUID(int=_guid_rng.getrandbits(128), version=4)


def seed_confluent_mock():
    # _sync/mock_schema_registry_client.py:284 registers `guid=str(uuid.uuid4())`; swap the
    # module's `uuid` name (not the global uuid module) for one with a seeded uuid4.
    from confluent_kafka.schema_registry._sync import mock_schema_registry_client as m

    m.uuid = types.SimpleNamespace(uuid4=_seeded_uuid4, UUID=uuid.UUID)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
def b64(data):
    return None if data is None else base64.b64encode(data).decode()


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


CASES = []


def add_case(
    name,
    registry,
    framing,
    part,
    fmt,
    schema_id,
    writer_schema_file,
    data,
    expected,
    note,
    message_type=None,
    message_indexes=None,
    headers=(),
    schema_metadata=None,
    record=None,
    **extra,
):
    assert name not in {c["name"] for c in CASES}, name
    case = {
        "name": name,
        "registry": registry,
        "framing": framing,
        "part": part,
        "format": fmt,
        "schema_id": schema_id,
        "writer_schema_file": writer_schema_file,
        "message_type": message_type,
        "message_indexes": message_indexes,
        "schema_metadata": schema_metadata,
        "headers": [[k, b64(v)] for k, v in headers],
        "bytes_b64": b64(data),
        "expected": expected,
    }
    case.update(extra)
    case["record"] = record
    case["note"] = note
    CASES.append(case)
    return case


def avro_resolved_as_v2(writer_text, datum_bytes):
    """What a writer->reader resolving reader with order-v2 as reader gets (fastavro), or its error."""
    import fastavro

    try:
        value = fastavro.schemaless_reader(
            io.BytesIO(datum_bytes),
            fastavro.parse_schema(json.loads(writer_text)),
            fastavro.parse_schema(json.loads(ORDER_V2)),
        )
        return {"expected_as_v2": value, "expected_as_v2_error": None}
    except Exception as e:  # fastavro.read.SchemaResolutionError
        return {"expected_as_v2": None, "expected_as_v2_error": f"{type(e).__name__}: {e}"}


# --------------------------------------------------------------------------------------------
# Confluent (confluent-kafka 2.16.1, mock registry)
# --------------------------------------------------------------------------------------------
def confluent_cases(pb):
    from confluent_kafka.schema_registry import (
        SchemaRegistryClient,
        header_schema_id_serializer,
    )
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from google.protobuf import json_format

    seed_confluent_mock()
    # SchemaRegistryClient(conf) builds the REST client whatever the URL; the factory
    # SchemaRegistryClient.new_client returns MockSchemaRegistryClient for a "mock://" URL
    # (_sync/schema_registry_client.py:1710-1716).
    client = SchemaRegistryClient.new_client({"url": "mock://fixtures"})

    def guid_prefix_serializer(payload, ctx, schema_id):
        # The V1 prefix: SchemaId.guid_to_bytes() = 0x01 + 16 GUID bytes (+ Protobuf indexes)
        # (common/serde.py:664-672). 2.16.1 ships no prefix serializer that writes it
        # (prefix_schema_id_serializer writes id_to_bytes(), __init__.py:197-210), so this
        # one-line schema.id.serializer is the V1 counterpart, calling Confluent's own encoder.
        return schema_id.guid_to_bytes() + payload

    def ctx(topic, part, headers=None):
        field = MessageField.KEY if part == "key" else MessageField.VALUE
        return SerializationContext(topic, field, headers)

    def avro_ser(schema_file, **conf):
        # AvroSerializer(schema_registry_client, schema_str, to_dict, conf) (_sync/avro.py:277)
        # conf keys: _sync/avro.py:260-275 (`schema.id.serializer` defaults to
        # prefix_schema_id_serializer; header_schema_id_serializer puts the id in a header).
        return AvroSerializer(client, schema_text(schema_file), conf=conf or None)

    avro_deser = AvroDeserializer(client)  # writer schema fetched by id/GUID, reader = writer

    reg = {}  # id -> RegisteredSchema-ish info, filled below from the mock store

    def avro_case(name, schema_file, datum, topic="orders", part="value", serializer=None,
                  framing="confluent", note="", record=None, as_v2=True):
        ser = serializer or avro_ser(schema_file)
        headers = []
        data = ser(datum, ctx(topic, part, headers))
        decoded = avro_deser(data, ctx(topic, part, headers))
        assert decoded == datum, (name, decoded, datum)
        if framing == "confluent":
            sid = str(struct.unpack(">I", data[1:5])[0])
            assert data[0] == 0
        elif framing == "confluent-guid":
            sid = str(uuid.UUID(bytes=data[1:17]))
            assert data[0] == 1
        elif framing == "confluent-header":
            assert len(headers) == 1 and headers[0][1][0] == 1
            sid = str(uuid.UUID(bytes=headers[0][1][1:17]))
        extra = {}
        if as_v2:
            payload = data[5:] if framing == "confluent" else data[17:] if framing == "confluent-guid" else data
            extra = avro_resolved_as_v2(schema_text(schema_file), payload)
        return add_case(name, "confluent", framing, part, "AVRO", sid, schema_file, data, decoded, note,
                        headers=headers, record=record, **extra)

    v1 = {"orderId": "o-1001", "amountCents": 1250, "currency": "EUR"}
    v2 = {"orderId": "o-1002", "amountCents": 995, "currency": "USD", "note": "gift wrap"}
    v3 = {"orderId": "o-1003", "amountCents": 40000, "currency": "GBP", "note": None, "channel": "web"}
    bad = {"orderId": "o-1004", "amountCents": "12.50", "currency": "EUR"}

    # Registration order fixes the ids: the mock store counts from 1
    # (_sync/mock_schema_registry_client.py:46-48). order-v2 is registered first, so id 1 is the
    # orders-avro reader schema (the benchmark's schemaId "1").
    avro_case("avro-confluent-v2-writer", "order-v2.avsc", v2,
              note="Writer = reader (order-v2). The note union takes branch 1 (string): bytes 02 12 'gift wrap'.")
    c_v1 = avro_case("avro-confluent-v1-writer", "order-v1.avsc", v1,
                     note="Schema evolution, field added with a default: written with order-v1 (id 2), read into order-v2 gives note = null (expected_as_v2).")
    avro_case("avro-confluent-v3-writer", "order-v3.avsc", v3,
              note="Schema evolution, field removed for the reader: written with order-v3 (extra string field channel), read into order-v2 skips channel.")
    avro_case("avro-confluent-bad-writer", "order-bad.avsc", bad,
              note="Incompatible change: amountCents is a string in the writer schema; resolving into order-v2 (long) must fail this record only, naming the schema id and the field amountCents.")
    avro_case("avro-confluent-v1-negative-amount", "order-v1.avsc",
              {"orderId": "o-1005", "amountCents": -500, "currency": "EUR"},
              note="Decodes fine; the orders-avro handler fails this record (amountCents < 0).")

    # V1 GUID prefix (0x01 + 16-byte GUID), same registry entry as order-v1 (id 2).
    avro_case("avro-confluent-guid-v1-writer", "order-v1.avsc", v1,
              serializer=avro_ser("order-v1.avsc", **{"schema.id.serializer": guid_prefix_serializer}),
              framing="confluent-guid",
              note="Confluent V1 prefix: 0x01 + the 16-byte GUID of order-v1's registry entry, then the Avro datum. Look up with GET /schemas/guids/{guid}.")
    # Header mode: header_schema_id_serializer (__init__.py:167-194) appends
    # ("__value_schema_id", guid_to_bytes()) -- the header holds the GUID form (0x01 + 16 bytes),
    # never the 4-byte id -- and returns the payload unprefixed.
    avro_case("avro-confluent-header-v1-writer", "order-v1.avsc", v1,
              serializer=avro_ser("order-v1.avsc", **{"schema.id.serializer": header_schema_id_serializer}),
              framing="confluent-header",
              note="Header mode: __value_schema_id = 0x01 + GUID (17 bytes); the value is the bare Avro datum (it starts with 0x0c, the length of 'o-1001').")

    # SOURCE mode: the ESM removed the 5-byte prefix; the event carries valueSchemaMetadata.
    src = base64.b64decode(c_v1["bytes_b64"])[5:]
    add_case("avro-source-confluent-v1-writer", "confluent", "source", "value", "AVRO", c_v1["schema_id"],
             "order-v1.avsc", src, v1,
             "SOURCE mode as the Lambda ESM delivers it: the bytes of avro-confluent-v1-writer without their 5-byte prefix; the id comes from valueSchemaMetadata.",
             schema_metadata={"dataFormat": "AVRO", "schemaId": c_v1["schema_id"]}, **avro_resolved_as_v2(ORDER_V1, src))

    # Key and value on different schemas (one Kafka record: same `record`).
    key = {"customerId": "c-42"}
    kv_key = avro_case("kv-key-customer", "customer-key.avsc", key, part="key", record="kv-different-schemas", as_v2=False,
                       note="Key of the record kv-different-schemas: subject orders-key, schema customer-key.avsc; the value (next case) is on order-v2.")
    add_case("avro-source-confluent-key", "confluent", "source", "key", "AVRO", kv_key["schema_id"], "customer-key.avsc",
             base64.b64decode(kv_key["bytes_b64"])[5:], key,
             "SOURCE mode for a key: kv-key-customer without its prefix, id in keySchemaMetadata (the key's own id, not the value's: Powertools Java classifies the key by the value's schemaId).",
             schema_metadata={"dataFormat": "AVRO", "schemaId": kv_key["schema_id"]})
    avro_case("kv-value-order", "order-v2.avsc",
              {"orderId": "o-1006", "amountCents": 700, "currency": "EUR", "note": None},
              record="kv-different-schemas",
              note="Value of the record kv-different-schemas (order-v2, id 1); the key is on another schema and id.")
    # Tombstone: the serializer returns None for None (_sync/avro.py:433-434).
    ser = avro_ser("order-v2.avsc")
    assert ser(None, ctx("orders", "value")) is None
    add_case("avro-tombstone", "confluent", "none", "value", "AVRO", None, "order-v2.avsc", None, None,
             "Tombstone: AvroSerializer(None) returns None, so the Kafka value is null (Lambda omits `value` or sends null). Option<Avro<T>> must give None without looking at framing.",
             record="tombstone")
    avro_case("avro-tombstone-key", "customer-key.avsc", {"customerId": "c-43"}, part="key", record="tombstone",
              as_v2=False, note="The key of the tombstone record: a framed customer-key.")

    # ---------------- Protobuf ----------------
    shop, many = pb["shop"], pb["many"]

    # All shop.proto messages go to one topic (subject orders-pb-value), so they share one id, as
    # with a real registry. The mock gives the same schema a NEW id under each subject
    # (_SchemaStore.set always increments max_id), unlike a real registry.
    def pb_case(name, msg, topic="orders-pb", framing="confluent", serializer_conf=None, note="", indexes=None):
        ser = ProtobufSerializer(type(msg), client, conf=serializer_conf)
        headers = []
        data = ser(msg, ctx(topic, "value", headers))
        des = ProtobufDeserializer(type(msg), conf={"use.deprecated.format": False})
        out = des(data, ctx(topic, "value", headers))
        assert out == msg
        if framing == "confluent":
            sid = str(struct.unpack(">I", data[1:5])[0])
        else:
            sid = str(uuid.UUID(bytes=headers[0][1][1:17]))
        expected = json_format.MessageToDict(out, preserving_proto_field_name=True,
                                             always_print_fields_with_no_presence=True)
        return add_case(name, "confluent", framing, "value", "PROTOBUF", sid, msg.DESCRIPTOR.file.name,
                        data, expected, note, message_type=msg.DESCRIPTOR.full_name,
                        message_indexes=indexes, headers=headers)

    order = shop.Order(order_id="o-2001", amount_cents=1250, currency="EUR",
                       items=[shop.Order.LineItem(sku="sku-1", quantity=2)])
    c0 = pb_case("protobuf-confluent-index-0", order, indexes=[0],
                 note="Index [0] is written as the single byte 0x00 (the shortcut, common/serde.py:783-786), not 02 00. Then the message, starting 0a (field 1, LEN).")
    d = base64.b64decode(c0["bytes_b64"])
    assert d[5] == 0x00 and d[6] == 0x0A, d[:8].hex()
    c1 = pb_case("protobuf-confluent-index-1", shop.Customer(customer_id="c-42", email="c42@example.com"),
                 indexes=[1],
                 note="Index [1] = 02 02 (zigzag count 1, zigzag index 1). Powertools Python reads 02 as count 2 (no zigzag) and eats the first protobuf tag.")
    d = base64.b64decode(c1["bytes_b64"])
    assert d[5:7] == b"\x02\x02", d[:8].hex()
    c02 = pb_case("protobuf-confluent-index-0-2",
                  shop.Order.Shipping(carrier="dhl", tracking_id="JD0001", cost_cents=499),
                  indexes=[0, 2],
                  note="Nested message shop.Order.Shipping: index path [0,2] = 04 00 04 (zigzag count 2, then 0, then 2).")
    d = base64.b64decode(c02["bytes_b64"])
    assert d[5:8] == b"\x04\x00\x04", d[:8].hex()
    c64 = pb_case("protobuf-confluent-index-64", many.M064(order_id="o-2064", amount_cents=64),
                  topic="many-pb", indexes=[64],
                  note="Index [64]: zigzag(64) = 128 needs two varint bytes: 02 80 01. Readers that take one byte per index (Powertools TypeScript) fail here.")
    d = base64.b64decode(c64["bytes_b64"])
    assert d[5:8] == b"\x02\x80\x01", d[:8].hex()
    c129 = pb_case("protobuf-confluent-index-129", many.M129(order_id="o-2129", amount_cents=129),
                   topic="many-pb", indexes=[129],
                   note="Index [129]: zigzag(129) = 258 = 82 02.")
    d = base64.b64decode(c129["bytes_b64"])
    assert d[5:8] == b"\x02\x82\x02", d[:8].hex()
    ch = pb_case("protobuf-confluent-header-index-0-2",
                 shop.Order.Shipping(carrier="ups", tracking_id="1Z999", cost_cents=899),
                 framing="confluent-header", indexes=[0, 2],
                 serializer_conf={"schema.id.serializer": header_schema_id_serializer},
                 note="Header mode: __value_schema_id = 0x01 + GUID + the message indexes (04 00 04); the value is the bare protobuf message, with NO index bytes.")
    h = base64.b64decode(ch["headers"][0][1])
    assert h[0] == 1 and h[17:] == b"\x04\x00\x04" and base64.b64decode(ch["bytes_b64"])[0] == 0x0A

    # SOURCE mode Protobuf: prefix removed, the index bytes stay (research file §2).
    for base, nm in ((c1, "protobuf-source-confluent-index-1"), (c02, "protobuf-source-confluent-index-0-2"),
                     (c64, "protobuf-source-confluent-index-64")):
        raw = base64.b64decode(base["bytes_b64"])[5:]
        add_case(nm, "confluent", "source", "value", "PROTOBUF", base["schema_id"], base["writer_schema_file"],
                 raw, base["expected"],
                 f"SOURCE mode: {base['name']} without its 5-byte prefix; the Confluent message-index bytes ({raw[:3].hex(' ')}...) are still there and must be consumed.",
                 message_type=base["message_type"], message_indexes=base["message_indexes"],
                 schema_metadata={"dataFormat": "PROTOBUF", "schemaId": base["schema_id"]})

    # ---------------- JSON Schema ----------------
    jser = JSONSerializer(schema_text("order.schema.json"), client)
    jdes = JSONDeserializer(None, schema_registry_client=client)
    jv = {"orderId": "o-3001", "amountCents": 2500, "currency": "EUR", "note": "json"}
    data = jser(jv, ctx("orders-json", "value"))
    assert jdes(data, ctx("orders-json", "value")) == jv
    add_case("json-confluent", "confluent", "confluent", "value", "JSON", str(struct.unpack(">I", data[1:5])[0]),
             "order.schema.json", data, jv,
             "JSON Schema, Confluent prefix then UTF-8 JSON text (compact: confluent-kafka encodes with orjson when installed). Json<T> must accept it.")
    # validate=False (_sync/json_schema.py:264) lets the serializer write a value that breaks the schema.
    jser_nv = JSONSerializer(schema_text("order.schema.json"), client, conf={"validate": False})
    jbad = {"orderId": "o-3002", "amountCents": "25.00", "currency": "EURO"}
    data = jser_nv(jbad, ctx("orders-json", "value"))
    add_case("json-confluent-invalid", "confluent", "confluent", "value", "JSON", str(struct.unpack(">I", data[1:5])[0]),
             "order.schema.json", data, jbad,
             "Framed JSON that violates order.schema.json (amountCents is a string, currency has 4 chars); written with validate=False. A validating reader fails this record; JSONDeserializer (validate on) rejects it too.",
             expected_error="schema validation: amountCents is not an integer; currency is longer than 3")
    try:
        jdes(data, ctx("orders-json", "value"))
        raise AssertionError("JSONDeserializer accepted an invalid value")
    except AssertionError:
        raise
    except Exception:
        pass

    # ---------------- registry.json ----------------
    store = client._store
    ids, guids = {}, {}
    for sid in sorted(store.schema_id_index):
        rs = store.schema_id_index[sid]
        body = rest_body(rs.schema)
        ids[str(sid)] = body
        guids[str(rs.guid)] = body
        reg[str(sid)] = {"guid": str(rs.guid), "subject": rs.subject, "version": rs.version}
    return ids, guids, reg


def rest_body(schema):
    """The body of GET /schemas/ids/{id} for a stored Schema: schema, schemaType unless AVRO,
    references when there are any (the Confluent REST reference: schemaType "Defaults to AVRO";
    the mock's Schema.to_dict would also print schemaType AVRO and an empty references list)."""
    body = {"schema": schema.schema_str}
    if schema.schema_type and schema.schema_type != "AVRO":
        body["schemaType"] = schema.schema_type
    if schema.references:
        body["references"] = [r.to_dict() for r in schema.references]
    return body


# --------------------------------------------------------------------------------------------
# Glue (aws-glue-schema-registry 1.1.3 against moto 5.2.5 on 127.0.0.1)
# --------------------------------------------------------------------------------------------
def glue_cases(pb):
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1", AWS_SESSION_TOKEN="testing")
    import boto3
    from google.protobuf import json_format
    from moto.moto_api._internal import mock_random
    from moto.server import ThreadedMotoServer

    from aws_schema_registry import DataAndSchema, KafkaDeserializer, KafkaSerializer, SchemaRegistryClient
    from aws_schema_registry.avro import AvroSchema
    from aws_schema_registry.codec import encode
    from aws_schema_registry.jsonschema import JsonSchema

    # moto's Glue version ids are mock_random.uuid4() (moto/glue/models.py:2449);
    # mock_random is a random.Random, so seeding it fixes them.
    mock_random.seed(1205)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # "Schema is already created ..." when a second version goes to an existing schema: expected.
    logging.getLogger("aws_schema_registry").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        glue = boto3.client("glue", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}")
        glue.create_registry(RegistryName="fixtures")
        client = SchemaRegistryClient(glue, registry_name="fixtures", wait_interval_seconds=0)
        ser = KafkaSerializer(client)
        des = KafkaDeserializer(client)

        v1 = {"orderId": "o-4001", "amountCents": 1250, "currency": "EUR"}
        v1_schema = AvroSchema(schema_text("order-v1.avsc"))
        data = ser.serialize("orders", DataAndSchema(v1, v1_schema))
        assert data[:2] == b"\x03\x00"
        out = des.deserialize("orders", data)
        assert out.data == v1
        vid = str(uuid.UUID(bytes=data[2:18]))
        add_case("avro-glue-v1-writer", "glue", "glue", "value", "AVRO", vid, "order-v1.avsc", data, out.data,
                 "aws-glue-schema-registry KafkaSerializer against moto's Glue: 03 00 + schema-version UUID + Avro datum (codec.py: byte 0 = 3, byte 1 = compression, 2-17 = UUID).",
                 **avro_resolved_as_v2(ORDER_V1, data[18:]))
        # KafkaSerializer.serialize never compresses (serde.py: encode(serialized, version_id)); the
        # library's codec.encode(compression=True) writes 03 05 + UUID + zlib.compress(datum).
        v1z = {"orderId": "o-4002", "amountCents": 3300, "currency": "EUR"}
        zdata = encode(v1_schema.write(v1z), uuid.UUID(vid), compression=True)
        assert zdata[:2] == b"\x03\x05" and zdata[18:20] == b"\x78\x9c"
        out = des.deserialize("orders", zdata)
        assert out.data == v1z
        add_case("avro-glue-zlib-v1-writer", "glue", "glue-zlib", "value", "AVRO", vid, "order-v1.avsc", zdata, out.data,
                 "03 05 + UUID + zlib stream (78 9c ...), written by aws_schema_registry.codec.encode(compression=True) (KafkaSerializer has no compression option); inflate, then Avro.",
                 **avro_resolved_as_v2(ORDER_V1, zlib.decompress(zdata[18:])))
        add_case("avro-source-glue-v1-writer", "glue", "source", "value", "AVRO", vid, "order-v1.avsc", data[18:], v1,
                 "SOURCE mode: avro-glue-v1-writer without its 18-byte Glue header; valueSchemaMetadata.schemaId is the 36-char version UUID. (Whether the ESM inflates zlib payloads in SOURCE mode is not known.)",
                 schema_metadata={"dataFormat": "AVRO", "schemaId": vid}, **avro_resolved_as_v2(ORDER_V1, data[18:]))
        v2 = {"orderId": "o-4003", "amountCents": 120, "currency": "USD", "note": None}
        d2 = ser.serialize("orders", DataAndSchema(v2, AvroSchema(schema_text("order-v2.avsc"))))
        assert des.deserialize("orders", d2).data == v2
        add_case("avro-glue-v2-writer", "glue", "glue", "value", "AVRO", str(uuid.UUID(bytes=d2[2:18])), "order-v2.avsc",
                 d2, v2, "Glue-framed order-v2 datum, a second version of the same Glue schema (orders-value).",
                 **avro_resolved_as_v2(ORDER_V2, d2[18:]))

        # JSON Schema through Glue
        jv = {"orderId": "o-4004", "amountCents": 4200, "currency": "EUR", "note": None}
        jdata = ser.serialize("orders-json", DataAndSchema(jv, JsonSchema(schema_text("order.schema.json"))))
        out = des.deserialize("orders-json", jdata)
        assert out.data == jv and jdata[:2] == b"\x03\x00"
        add_case("json-glue", "glue", "glue", "value", "JSON", str(uuid.UUID(bytes=jdata[2:18])), "order.schema.json",
                 jdata, out.data, "JSON Schema through aws-glue-schema-registry: 03 00 + UUID + UTF-8 JSON text (compact: JsonSchema.write uses orjson.dumps, after validating).")

        # Protobuf through Glue: registered in moto (DataFormat PROTOBUF), framed by hand.
        def register_proto(name, text):
            glue.create_schema(RegistryId={"RegistryName": "fixtures"}, SchemaName=name, DataFormat="PROTOBUF",
                               Compatibility="BACKWARD", SchemaDefinition=text)
            r = glue.get_schema_version(SchemaId={"RegistryName": "fixtures", "SchemaName": name},
                                        SchemaVersionNumber={"LatestVersion": True})
            return r["SchemaVersionId"]

        shop_vid = register_proto("shop-proto", SHOP_PROTO)
        many_vid = register_proto("many-proto", many_proto())
        shop, many = pb["shop"], pb["many"]
        for name, vid_, msg, note in (
            ("protobuf-glue-order", shop_vid,
             shop.Order(order_id="o-5001", amount_cents=1250, currency="EUR",
                        shipping=shop.Order.Shipping(carrier="dhl", tracking_id="JD5001", cost_cents=0)),
             "shop.Order has Glue flat index 1 (shop.Customer sorts first), Confluent index [0]: the same message, different numbers."),
            ("protobuf-glue-customer", shop_vid, shop.Customer(customer_id="c-5002", email="x@example.com"),
             "shop.Customer: Glue flat index 0 (one byte 00)."),
            ("protobuf-glue-shipping", shop_vid, shop.Order.Shipping(carrier="ups", tracking_id="1Z5003", cost_cents=1),
             "shop.Order.Shipping: Glue flat index 4 (Confluent [0,2])."),
            ("protobuf-glue-index-129", many_vid, many.M129(order_id="o-5129", amount_cents=129),
             "shop.many.M129: Glue flat index 129 = uvarint 81 01 (two bytes). Readers that drop one byte (Powertools Python) leave 01 in front of the message."),
        ):
            index = glue_flat_index(msg.DESCRIPTOR)
            body = uvarint(index) + msg.SerializeToString()
            data = b"\x03\x00" + uuid.UUID(vid_).bytes + body
            expected = json_format.MessageToDict(msg, preserving_proto_field_name=True,
                                                 always_print_fields_with_no_presence=True)
            add_case(name, "glue", "glue", "value", "PROTOBUF", vid_, msg.DESCRIPTOR.file.name, data, expected,
                     "Built by hand: 03 00 + version UUID (SerializationDataEncoder.write) + uvarint flat index "
                     "(ProtobufWireFormatEncoder: writeUInt32NoTag) + message. " + note,
                     message_type=msg.DESCRIPTOR.full_name, message_indexes=[index])
            if name in ("protobuf-glue-order", "protobuf-glue-index-129"):
                add_case(name.replace("protobuf-glue", "protobuf-source-glue"), "glue", "source", "value", "PROTOBUF",
                         vid_, msg.DESCRIPTOR.file.name, body, expected,
                         f"SOURCE mode: {name} without its 18-byte header; the Glue index uvarint ({uvarint(index).hex(' ')}) is still there.",
                         message_type=msg.DESCRIPTOR.full_name, message_indexes=[index],
                         schema_metadata={"dataFormat": "PROTOBUF", "schemaId": vid_})
        assert glue_flat_index(many.M129.DESCRIPTOR) == 129 and uvarint(129) == b"\x81\x01"

        # What GetSchemaVersion answers for each version id (timestamps dropped).
        versions = {}
        for c in CASES:
            if c["registry"] == "glue" and c["schema_id"] and c["schema_id"] not in versions:
                r = glue.get_schema_version(SchemaVersionId=c["schema_id"])
                r.pop("ResponseMetadata", None)
                r.pop("CreatedTime", None)
                versions[c["schema_id"]] = r
        return versions
    finally:
        server.stop()


def glue_flat_index(desc) -> int:
    """Glue's Protobuf message index: all messages of the file (a level-order walk), sorted by
    full name, position in that list (MessageIndexFinder.getAll: allDescriptors.sort(comparing(
    Descriptor::getFullName))). Java compares UTF-16 code units; these names are ASCII."""
    names = []
    queue = list(desc.file.message_types_by_name.values())
    while queue:
        d = queue.pop(0)
        names.append(d.full_name)
        queue.extend(d.nested_types)
    names.sort()
    return names.index(desc.full_name)


# --------------------------------------------------------------------------------------------
# Hand-built: Avro single-object encoding, unframed raw Avro
# --------------------------------------------------------------------------------------------
def avro_other_cases():
    import avro.schema
    import fastavro

    # Avro spec, "Single-object encoding": 0xC3 0x01, then the 8-byte little-endian CRC-64-AVRO
    # (Rabin) fingerprint of the schema's Parsing Canonical Form, then the binary datum.
    # Fingerprint from Apache avro 1.12.2 (Schema.fingerprint, "little-endian" per its docstring),
    # cross-checked against fastavro's independent implementation.
    s = avro.schema.parse(ORDER_V1)
    fp = s.fingerprint("CRC-64-AVRO")
    assert fp.hex() == fastavro.schema.fingerprint(fastavro.schema.to_parsing_canonical_form(json.loads(ORDER_V1)), "CRC-64-AVRO")
    # The spec's own example value: fingerprint of the schema "null" = 0x63dd24e7cc258f8a, stored
    # little-endian as 8a 8f 25 cc e7 24 dd 63 (checked below against the library).
    assert avro.schema.parse('"null"').fingerprint("CRC-64-AVRO").hex() == "8a8f25cce724dd63"
    v1 = {"orderId": "o-6001", "amountCents": 1250, "currency": "EUR"}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(json.loads(ORDER_V1)), v1)
    datum = buf.getvalue()
    data = b"\xc3\x01" + fp + datum
    add_case("avro-single-object-v1-writer", "none", "avro-single-object", "value", "AVRO", None, "order-v1.avsc", data, v1,
             f"Built by hand from the Avro spec (single-object encoding): c3 01 + CRC-64-AVRO fingerprint of order-v1's canonical form, little-endian ({fp.hex(' ')}), + datum. The fingerprint identifies the writer schema; no registry id.",
             fingerprint_hex_le=fp.hex(), canonical_form=s.canonical_form, **avro_resolved_as_v2(ORDER_V1, datum))

    # Raw Avro that starts with 0x00 and even parses as a Confluent V0 frame.
    raw = {"orderId": "", "amountCents": 0, "currency": "", "note": "x"}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(json.loads(ORDER_V2)), raw)
    data = buf.getvalue()
    assert data == b"\x00\x00\x00\x02\x02x", data.hex()
    add_case("avro-raw-leading-zero", "none", "none", "value", "AVRO", None, "order-v2.avsc", data, raw,
             "Unframed order-v2 datum 00 00 00 02 02 78 ('' , 0, '', note branch 1 'x'). Read as Confluent it would be magic 0, id 514, payload 'x': a decoder without schema metadata or header must not take raw Avro as framed.",
             **avro_resolved_as_v2(ORDER_V2, data))


# --------------------------------------------------------------------------------------------
def compile_protos(tmp):
    from grpc_tools import protoc
    import grpc_tools

    include = str(Path(grpc_tools.__file__).parent / "_proto")
    for name in ("shop.proto", "many.proto"):
        rc = protoc.main(["protoc", f"-I{OUT}", f"-I{include}", f"--python_out={tmp}", name])
        assert rc == 0, f"protoc failed on {name}"
    sys.path.insert(0, tmp)
    import importlib

    return {"shop": importlib.import_module("shop_pb2"), "many": importlib.import_module("many_pb2")}


def main():
    write_schema_files()
    with tempfile.TemporaryDirectory() as tmp:
        pb = compile_protos(tmp)
        ids, guids, reg = confluent_cases(pb)
        glue_versions = glue_cases(pb)
        avro_other_cases()
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))
    (OUT / "cases.json").write_text(json.dumps(CASES, indent=2, ensure_ascii=False) + "\n")
    (OUT / "registry.json").write_text(json.dumps(
        {
            "_comment": "Confluent Schema Registry answers, taken from confluent-kafka 2.16.1's mock registry after the serializers registered: ids[id] = body of GET /schemas/ids/{id}, guids[guid] = body of GET /schemas/guids/{guid}; subjects = which subject/version each id was registered under (info, not a REST body).",
            "ids": ids,
            "guids": guids,
            "subjects": reg,
        }, indent=2) + "\n")
    (OUT / "glue-registry.json").write_text(json.dumps(
        {
            "_comment": "AWS Glue GetSchemaVersion(SchemaVersionId=...) answers from moto 5.2.5, keyed by version id (CreatedTime and ResponseMetadata dropped).",
            "versions": glue_versions,
        }, indent=2) + "\n")
    print(f"wrote {len(CASES)} cases, {len(ids)} Confluent ids, {len(glue_versions)} Glue versions to {OUT}")


if __name__ == "__main__":
    main()
