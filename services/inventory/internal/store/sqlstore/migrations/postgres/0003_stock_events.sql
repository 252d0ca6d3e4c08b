-- Stock events from ERP/WMS (ApplyStockEvents).
--
-- Physical stock can be lost under existing reservations (damage, count
-- corrections). That quantity is kept in `oversold`, so `reserved` (the part
-- backed by stock) still never exceeds on_hand and the CHECKs of 0001 keep
-- guarding reservations: a reservation only ever increases `reserved`, and
-- `oversold` is non-zero only when everything on hand is reserved.
-- The total reserved quantity of the level is reserved + oversold.
ALTER TABLE stock_levels ADD COLUMN oversold BIGINT NOT NULL DEFAULT 0,
    ADD CONSTRAINT stock_oversold_only_when_fully_reserved CHECK (oversold >= 0 AND (oversold = 0 OR reserved = on_hand));

-- Last applied source sequence per (source system, SKU, warehouse).
CREATE TABLE stock_sources (
    source_system  TEXT   NOT NULL,
    sku            TEXT   NOT NULL,
    warehouse_code TEXT   NOT NULL,
    last_sequence  BIGINT NOT NULL,
    PRIMARY KEY (source_system, sku, warehouse_code)
);

-- Every accepted stock event: applied, or buffered until its predecessors
-- arrive (payload kept for then). Duplicates are detected on the key.
CREATE TABLE stock_events (
    source_system  TEXT   NOT NULL,
    event_id       TEXT   NOT NULL,
    sku            TEXT   NOT NULL,
    warehouse_code TEXT   NOT NULL,
    sequence       BIGINT NOT NULL,
    applied        BIGINT NOT NULL CHECK (applied IN (0, 1)),
    payload        TEXT   NOT NULL,  -- JSON of the event
    received_us    BIGINT NOT NULL,
    PRIMARY KEY (source_system, event_id)
);
CREATE INDEX stock_events_buffered ON stock_events (source_system, sku, warehouse_code, sequence) WHERE applied = 0;

-- ApplyStockEvents batches by request id, with their results (idempotency).
CREATE TABLE stock_event_batches (
    request_id   TEXT NOT NULL PRIMARY KEY,
    request_hash TEXT NOT NULL,
    results      TEXT NOT NULL  -- JSON
);
