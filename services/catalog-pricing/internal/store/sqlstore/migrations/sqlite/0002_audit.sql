-- Append-only audit trail of catalog publications and pricing changes.
CREATE TABLE audit_records (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    occur_time     TIMESTAMP NOT NULL,
    correlation_id TEXT NOT NULL,
    action         TEXT NOT NULL,
    resource       TEXT NOT NULL,
    actor_kind     TEXT NOT NULL,
    actor_id       TEXT NOT NULL,
    before_json    TEXT NOT NULL,
    after_json     TEXT NOT NULL
);
