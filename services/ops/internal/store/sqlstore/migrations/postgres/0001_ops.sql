-- The exception desk: one row per exception; while an exception is not
-- RESOLVED (state 3) it is the only one of its kind for its resource, so
-- new occurrences count on it.
CREATE TABLE exceptions (
    id                TEXT    PRIMARY KEY,
    kind              BIGINT  NOT NULL,
    severity          BIGINT  NOT NULL,
    domain            BIGINT  NOT NULL,
    resource          TEXT    NOT NULL,
    source_service    TEXT    NOT NULL,
    aggregate_type    TEXT    NOT NULL,
    aggregate_id      TEXT    NOT NULL,
    message           TEXT    NOT NULL,
    state             BIGINT  NOT NULL,
    correlation_id    TEXT    NOT NULL,
    details           TEXT    NOT NULL,
    occurrence_count  BIGINT  NOT NULL,
    acknowledger_kind TEXT    NOT NULL DEFAULT '',
    acknowledger_id   TEXT    NOT NULL DEFAULT '',
    resolver_kind     TEXT    NOT NULL DEFAULT '',
    resolver_id       TEXT    NOT NULL DEFAULT '',
    resolution_note   TEXT    NOT NULL DEFAULT '',
    dead_letter_seq   BIGINT  NOT NULL DEFAULT 0,
    create_us         BIGINT  NOT NULL,
    update_us         BIGINT  NOT NULL,
    resolve_us        BIGINT  NOT NULL DEFAULT 0,
    last_occur_us     BIGINT  NOT NULL
);
CREATE UNIQUE INDEX exceptions_unresolved ON exceptions (kind, resource) WHERE state <> 3;
CREATE INDEX exceptions_resource ON exceptions (resource, create_us);
CREATE INDEX exceptions_create ON exceptions (create_us, id);
CREATE INDEX exceptions_update ON exceptions (update_us, id);
CREATE INDEX exceptions_severity ON exceptions (severity, create_us, id);
CREATE INDEX exceptions_state ON exceptions (state, domain);

CREATE TABLE exception_history (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exception_id  TEXT    NOT NULL REFERENCES exceptions (id),
    action        TEXT    NOT NULL,
    actor_kind    TEXT    NOT NULL,
    actor_id      TEXT    NOT NULL,
    note          TEXT    NOT NULL,
    outcome       TEXT    NOT NULL,
    dedupe_key    TEXT    NOT NULL,
    create_us     BIGINT  NOT NULL
);
CREATE INDEX exception_history_exception ON exception_history (exception_id, id);
CREATE UNIQUE INDEX exception_history_dedupe ON exception_history (exception_id, dedupe_key) WHERE dedupe_key <> '';

-- Dead letters of the DEADLETTER stream, by stream sequence.
CREATE TABLE dead_letters (
    seq              BIGINT  PRIMARY KEY,
    consumer         TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    aggregate_type   TEXT    NOT NULL,
    aggregate_id     TEXT    NOT NULL,
    aggregate_seq    BIGINT  NOT NULL,
    correlation_id   TEXT    NOT NULL,
    stream           TEXT    NOT NULL,
    stream_seq       BIGINT  NOT NULL,
    error            TEXT    NOT NULL,
    delivery_count   BIGINT  NOT NULL,
    publish_us       BIGINT  NOT NULL,
    dead_letter_us   BIGINT  NOT NULL,
    payload_type     TEXT    NOT NULL,
    payload          BYTEA   NOT NULL,
    payload_size     BIGINT  NOT NULL,
    state            BIGINT  NOT NULL,
    replay_count     BIGINT  NOT NULL,
    last_replay_us   BIGINT  NOT NULL
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
    create_us       BIGINT  NOT NULL
);
CREATE INDEX audit_records_create ON audit_records (create_us, id);
CREATE INDEX audit_records_target ON audit_records (target, create_us);
CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_records is append-only';
END
$$;
CREATE TRIGGER audit_records_no_update_delete BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();

-- Results of idempotent operator requests, by the actor's request id.
CREATE TABLE idempotency_keys (
    scope        TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    result       BYTEA   NOT NULL,
    create_us    BIGINT  NOT NULL,
    PRIMARY KEY (scope, request_id)
);
