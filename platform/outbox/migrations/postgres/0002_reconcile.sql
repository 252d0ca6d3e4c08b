-- The stream sequence JetStream acknowledged for a published row, so the
-- reconciler can check that the stream still holds it. NULL for rows
-- published before this column existed (they are not checked).
ALTER TABLE outbox_events ADD COLUMN stream_seq BIGINT;
-- When the reconciler republished the row because its stream had lost it
-- (a row is republished at most once).
ALTER TABLE outbox_events ADD COLUMN republished_unix_us BIGINT;

-- Singleton leases (one holder across a service's replicas), e.g. the
-- outbox reconciler's.
CREATE TABLE outbox_leases (
    name            TEXT   NOT NULL PRIMARY KEY,
    holder          TEXT   NOT NULL,
    expires_unix_us BIGINT NOT NULL
);
