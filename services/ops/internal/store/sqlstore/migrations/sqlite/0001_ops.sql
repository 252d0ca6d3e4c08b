-- The exception desk: one row per exception; while an exception is not
-- RESOLVED (state 3) it is the only one of its kind for its resource, so
-- new occurrences count on it.
CREATE TABLE exceptions (
    id                TEXT    PRIMARY KEY,
    kind              INTEGER NOT NULL,
    severity          INTEGER NOT NULL,
    domain            INTEGER NOT NULL,
    resource          TEXT    NOT NULL,
    source_service    TEXT    NOT NULL,
    aggregate_type    TEXT    NOT NULL,
    aggregate_id      TEXT    NOT NULL,
    message           TEXT    NOT NULL,
    state             INTEGER NOT NULL,
    correlation_id    TEXT    NOT NULL,
    details           TEXT    NOT NULL,
    occurrence_count  INTEGER NOT NULL,
    acknowledger_kind TEXT    NOT NULL DEFAULT '',
    acknowledger_id   TEXT    NOT NULL DEFAULT '',
    resolver_kind     TEXT    NOT NULL DEFAULT '',
    resolver_id       TEXT    NOT NULL DEFAULT '',
    resolution_note   TEXT    NOT NULL DEFAULT '',
    dead_letter_seq   INTEGER NOT NULL DEFAULT 0,
    create_us         INTEGER NOT NULL,
    update_us         INTEGER NOT NULL,
    resolve_us        INTEGER NOT NULL DEFAULT 0,
    last_occur_us     INTEGER NOT NULL
);
CREATE UNIQUE INDEX exceptions_unresolved ON exceptions (kind, resource) WHERE state <> 3;
CREATE INDEX exceptions_resource ON exceptions (resource, create_us);
CREATE INDEX exceptions_create ON exceptions (create_us, id);
CREATE INDEX exceptions_update ON exceptions (update_us, id);
CREATE INDEX exceptions_severity ON exceptions (severity, create_us, id);
CREATE INDEX exceptions_state ON exceptions (state, domain);

CREATE TABLE exception_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    exception_id  TEXT    NOT NULL REFERENCES exceptions (id),
    action        TEXT    NOT NULL,
    actor_kind    TEXT    NOT NULL,
    actor_id      TEXT    NOT NULL,
    note          TEXT    NOT NULL,
    outcome       TEXT    NOT NULL,
    dedupe_key    TEXT    NOT NULL,
    create_us     INTEGER NOT NULL
);
CREATE INDEX exception_history_exception ON exception_history (exception_id, id);
CREATE UNIQUE INDEX exception_history_dedupe ON exception_history (exception_id, dedupe_key) WHERE dedupe_key <> '';

-- Dead letters of the DEADLETTER stream, by stream sequence.
CREATE TABLE dead_letters (
    seq              INTEGER PRIMARY KEY,
    consumer         TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    aggregate_type   TEXT    NOT NULL,
    aggregate_id     TEXT    NOT NULL,
    aggregate_seq    INTEGER NOT NULL,
    correlation_id   TEXT    NOT NULL,
    stream           TEXT    NOT NULL,
    stream_seq       INTEGER NOT NULL,
    error            TEXT    NOT NULL,
    delivery_count   INTEGER NOT NULL,
    publish_us       INTEGER NOT NULL,
    dead_letter_us   INTEGER NOT NULL,
    payload_type     TEXT    NOT NULL,
    payload          BLOB    NOT NULL,
    payload_size     INTEGER NOT NULL,
    state            INTEGER NOT NULL,
    replay_count     INTEGER NOT NULL,
    last_replay_us   INTEGER NOT NULL
);
CREATE INDEX dead_letters_time ON dead_letters (dead_letter_us, seq);
CREATE INDEX dead_letters_state ON dead_letters (state, consumer);

-- The audit index is append-only: the triggers refuse every UPDATE and
-- DELETE, whoever issues it.
CREATE TABLE audit_records (
    id              TEXT    PRIMARY KEY,
    actor_kind      TEXT    NOT NULL,
    actor_id        TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    service         TEXT    NOT NULL,
    correlation_id  TEXT    NOT NULL,
    before_json     TEXT    NOT NULL,
    after_json      TEXT    NOT NULL,
    create_us       INTEGER NOT NULL
);
CREATE INDEX audit_records_create ON audit_records (create_us, id);
CREATE INDEX audit_records_target ON audit_records (target, create_us);
CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit_records is append-only');
END;
CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit_records is append-only');
END;

-- Results of idempotent operator requests, by the actor's request id.
CREATE TABLE idempotency_keys (
    scope        TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    result       BLOB    NOT NULL,
    create_us    INTEGER NOT NULL,
    PRIMARY KEY (scope, request_id)
);
