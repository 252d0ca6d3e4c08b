-- Events a consumer has applied, written in the same transaction as the
-- handler's effects: a redelivered or replayed event finds its row and is
-- skipped. Times are unix microseconds UTC.
CREATE TABLE events_processed (
    consumer          TEXT   NOT NULL,
    event_id          TEXT   NOT NULL,
    subject           TEXT   NOT NULL,
    event_type        TEXT   NOT NULL DEFAULT '',
    aggregate_type    TEXT   NOT NULL DEFAULT '',
    aggregate_id      TEXT   NOT NULL DEFAULT '',
    aggregate_seq     BIGINT NOT NULL DEFAULT 0,
    processed_unix_us BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

CREATE INDEX events_processed_time ON events_processed (processed_unix_us);
