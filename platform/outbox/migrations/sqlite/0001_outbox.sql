-- Per-aggregate sequence counters. A writer bumps its aggregate's row
-- inside its own transaction, so sequences are gap-free among committed
-- events and follow commit order per aggregate.
CREATE TABLE outbox_aggregate_seq (
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    last_seq       INTEGER NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
) WITHOUT ROWID;

-- Events waiting for (or done with) relay to NATS JetStream. Times are
-- unix microseconds UTC so both engines compare and order them the same way.
CREATE TABLE outbox_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id          TEXT    NOT NULL UNIQUE,
    aggregate_type    TEXT    NOT NULL,
    aggregate_id      TEXT    NOT NULL,
    aggregate_seq     INTEGER NOT NULL,
    subject           TEXT    NOT NULL,
    payload_type      TEXT    NOT NULL,
    payload           BLOB    NOT NULL,
    correlation_id    TEXT    NOT NULL DEFAULT '',
    traceparent       TEXT    NOT NULL DEFAULT '',
    tracestate        TEXT    NOT NULL DEFAULT '',
    created_unix_us   INTEGER NOT NULL,
    published_unix_us INTEGER,
    UNIQUE (aggregate_type, aggregate_id, aggregate_seq)
);

CREATE INDEX outbox_events_unpublished ON outbox_events (id) WHERE published_unix_us IS NULL;
CREATE INDEX outbox_events_published ON outbox_events (published_unix_us) WHERE published_unix_us IS NOT NULL;
