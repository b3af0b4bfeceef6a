#!/usr/bin/env python3
"""Write a realistic Amazon MSK Lambda event with N Avro-encoded Order records to stdout.

usage: gen_avro_event.py RECORDS [PARTITIONS] [--framed]

Same envelope, field order, keys and headers as gen_event.py (topic "orders" instead of
"user-events"). Each value is a shop.Order written with tests/fixtures/schema-registry/
order-v2.avsc (the orders-avro reader schema) by fastavro's schemaless_writer, the encoder
confluent-kafka's AvroSerializer calls.
  default:  SOURCE mode, as Lambda's schema-registry integration delivers it with
            EventRecordFormat SOURCE: the Confluent prefix removed, and after "headers" each
            record carries "valueSchemaMetadata": {"dataFormat": "AVRO", "schemaId": "1"}
            (Confluent id 1 = order-v2 in tests/fixtures/schema-registry/registry.json).
  --framed: what reaches a function without that integration: each value is Confluent-framed,
            00 + big-endian id 1 + datum (confluent-kafka's prefix_schema_id_serializer), and no
            schema metadata.
Keys are plain UTF-8 user ids (no registry). Amounts are never negative, so a handler that
rejects negative amounts fails no record. The output is deterministic.
Needs fastavro (~/.cache/msk-lambda/schema-venv, see scripts/install-test-tools).
"""
import base64
import io
import json
import random
import struct
import sys
from pathlib import Path

import fastavro

SCHEMA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "schema-registry" / "order-v2.avsc"
SCHEMA_ID = 1


def signed(data: bytes) -> list:
    return [b - 256 if b > 127 else b for b in data]


def main() -> None:
    args = sys.argv[1:]
    framed = "--framed" in args
    if framed:
        args.remove("--framed")
    n = int(args[0]) if args else 1000
    partitions = int(args[1]) if len(args) > 1 else 4
    schema = fastavro.parse_schema(json.loads(SCHEMA.read_text()))
    prefix = struct.pack(">bI", 0, SCHEMA_ID)
    rng = random.Random(42)
    records = {}
    for i in range(n):
        p = i % partitions
        offset = 1_000_000 + i // partitions
        user = f"user-{rng.randrange(100000)}"
        order = {
            "orderId": f"o-{1_000_000 + i}",
            "amountCents": rng.randrange(100, 500_000),
            "currency": rng.choice(["EUR", "USD", "GBP", "JPY"]),
            "note": rng.choice([None, None, "gift wrap", "leave at the door", "x" * rng.randrange(16, 50)]),
        }
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, order)
        raw = (prefix + buf.getvalue()) if framed else buf.getvalue()
        record = {
            "topic": "orders",
            "partition": p,
            "offset": offset,
            "timestamp": 1735689600000 + i,
            "timestampType": "CREATE_TIME",
            "key": base64.b64encode(user.encode()).decode(),
            "value": base64.b64encode(raw).decode(),
            "headers": [
                {"trace-id": signed(f"{rng.getrandbits(64):016x}".encode())},
                {"source": signed("web-café".encode())},
            ],
        }
        if not framed:
            record["valueSchemaMetadata"] = {"dataFormat": "AVRO", "schemaId": str(SCHEMA_ID)}
        records.setdefault(f"orders-{p}", []).append(record)
    event = {
        "eventSource": "aws:kafka",
        "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/bench/00000000-0000-0000-0000-000000000000-1",
        "bootstrapServers": "b-1.bench.kafka.us-east-1.amazonaws.com:9098,b-2.bench.kafka.us-east-1.amazonaws.com:9098",
        "records": records,
    }
    json.dump(event, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main()
