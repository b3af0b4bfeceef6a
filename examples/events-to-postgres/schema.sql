-- The table events-to-postgres writes: one row per Kafka record of the `user-events` topic.
-- The primary key is the record's place in Kafka, so that a record Lambda delivers again is not
-- written twice (the insert says ON CONFLICT (kafka_topic, kafka_partition, kafka_offset) DO NOTHING).
CREATE TABLE IF NOT EXISTS user_events (
    kafka_topic     text           NOT NULL,
    kafka_partition integer        NOT NULL,
    kafka_offset    bigint         NOT NULL,
    user_id         text           NOT NULL,
    event_type      text           NOT NULL
        CONSTRAINT user_events_known_event_type
        CHECK (event_type IN ('login', 'logout', 'purchase', 'view', 'click')),
    amount          numeric(12, 2)
        CONSTRAINT user_events_amount_not_negative CHECK (amount >= 0),
    -- The record's Kafka timestamp; NULL for a record without one.
    occurred_at     timestamptz,
    -- When the row was first written: a redelivered record leaves it unchanged.
    written_at      timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (kafka_topic, kafka_partition, kafka_offset)
);
