#!/usr/bin/env python3
"""Reference point: Powertools for AWS Lambda (Python) 3.x's Kafka consumer on an Avro event,
timed in-process.

usage: powertools_avro.py EVENT.json [REPEATS]

EVENT.json comes from gen_avro_event.py. On a SOURCE-mode event (records carry
valueSchemaMetadata) it uses SchemaConfig(value_schema_type="AVRO", value_schema=<order-v2.avsc>),
as Powertools documents for the ESM schema-registry integration; on a --framed event (no
metadata) it adds value_schema_wire_format="CONFLUENT", Powertools' option that checks the 0x00
magic and drops the 5-byte prefix (it does not look the id up: the given schema is both writer
and reader). The handler reads every record's key and two fields of its value, as
python_handler.py does. It prints one line:
  powertools_avro records=N best_ms=T records_per_s=R
where best_ms is the fastest of REPEATS runs of json.loads of the raw event plus the decorated
handler (Lambda's Python runtime parses the event before calling the handler).
Needs aws-lambda-powertools (~/.cache/msk-lambda/schema-venv, see scripts/install-test-tools).
"""
import json
import sys
import time
from pathlib import Path

from aws_lambda_powertools.utilities.kafka import ConsumerRecords, SchemaConfig, kafka_consumer

SCHEMA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "schema-registry" / "order-v2.avsc"


def make_handler(framed: bool):
    config = SchemaConfig(
        value_schema_type="AVRO",
        value_schema=SCHEMA.read_text(),
        **({"value_schema_wire_format": "CONFLUENT"} if framed else {}),
    )

    @kafka_consumer(schema_config=config)
    def handler(event: ConsumerRecords, context):
        n = 0
        first = None
        for record in event.records:
            value = record.value
            touched = (value["orderId"], value["amountCents"], record.key)
            if first is None:
                first = touched
            n += 1
        return n, first

    return handler


def main() -> None:
    path = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    raw = open(path, "rb").read()
    probe = json.loads(raw)
    first_record = next(iter(probe["records"].values()))[0]
    framed = "valueSchemaMetadata" not in first_record
    handler = make_handler(framed)
    n = sum(len(r) for r in probe["records"].values())
    best = None
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        event = json.loads(raw)
        result = handler(event, None)
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    count, (order_id, amount, key) = result
    # It really decoded: the first record of gen_avro_event.py is order o-1000000 of a user-... key.
    assert count == n, (count, n)
    assert order_id == "o-1000000" and isinstance(amount, int) and amount >= 100, (order_id, amount)
    assert isinstance(key, str) and key.startswith("user-"), key
    print(f"powertools_avro records={n} best_ms={best * 1000:.2f} records_per_s={n / best:.0f}")


if __name__ == "__main__":
    main()
