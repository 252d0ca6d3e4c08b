-- Inventory schema (SQLite). Times are unix microseconds UTC (0 = unset) and
-- booleans 0/1, the same representation as the PostgreSQL schema, so the
-- store's SQL is shared between engines.

CREATE TABLE warehouses (
    code         TEXT    NOT NULL PRIMARY KEY,
    display_name TEXT    NOT NULL,
    region       TEXT    NOT NULL DEFAULT '',
    address      TEXT    NOT NULL DEFAULT '{}',  -- JSON
    priority     INTEGER NOT NULL,
    channels     TEXT    NOT NULL DEFAULT '[]',  -- JSON array; empty = every channel
    active       INTEGER NOT NULL CHECK (active IN (0, 1)),
    create_us    INTEGER NOT NULL,
    update_us    INTEGER NOT NULL
);

CREATE TABLE stock_levels (
    sku             TEXT    NOT NULL,
    warehouse_code  TEXT    NOT NULL REFERENCES warehouses (code),
    on_hand         INTEGER NOT NULL,
    reserved        INTEGER NOT NULL DEFAULT 0,
    inbound         TEXT    NOT NULL DEFAULT '[]',  -- JSON
    inbound_total   INTEGER NOT NULL DEFAULT 0,
    source_system   TEXT    NOT NULL DEFAULT '',
    source_sequence INTEGER NOT NULL DEFAULT 0,
    revision        INTEGER NOT NULL,
    update_us       INTEGER NOT NULL,
    PRIMARY KEY (sku, warehouse_code),
    -- Last line of defence against overselling: the store never writes
    -- such a row, and the database refuses it if it ever tried.
    CONSTRAINT stock_on_hand_non_negative CHECK (on_hand >= 0),
    CONSTRAINT stock_reserved_non_negative CHECK (reserved >= 0),
    CONSTRAINT stock_reserved_within_on_hand CHECK (reserved <= on_hand)
);

CREATE TABLE reservations (
    id                 TEXT    NOT NULL PRIMARY KEY,
    request_id         TEXT    NOT NULL UNIQUE,
    request_hash       TEXT    NOT NULL,
    reference_id       TEXT    NOT NULL,
    channel            TEXT    NOT NULL,
    state              INTEGER NOT NULL,
    strategy           INTEGER NOT NULL,
    allow_split        INTEGER NOT NULL CHECK (allow_split IN (0, 1)),
    backorder_policy   INTEGER NOT NULL,
    destination_region TEXT    NOT NULL DEFAULT '',
    lines              TEXT    NOT NULL,  -- JSON lines with allocations
    expire_us          INTEGER NOT NULL DEFAULT 0,
    create_us          INTEGER NOT NULL,
    update_us          INTEGER NOT NULL,
    version            INTEGER NOT NULL
);

-- At most one open (HELD or CONFIRMED) reservation per reference.
CREATE UNIQUE INDEX reservations_open_reference ON reservations (reference_id) WHERE state IN (1, 2);
CREATE INDEX reservations_held_expiry ON reservations (expire_us) WHERE state = 1;

-- Request ids of reservation operations (release, commit, confirm, extend).
CREATE TABLE reservation_requests (
    operation      TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    PRIMARY KEY (operation, request_id)
);

-- Shipments committed per reservation (CommitReservation idempotency).
CREATE TABLE reservation_shipments (
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    shipment_id    TEXT NOT NULL,
    warehouse_code TEXT NOT NULL,
    PRIMARY KEY (reservation_id, shipment_id)
);
