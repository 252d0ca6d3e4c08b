-- Products of every stored catalog version; version 0 is the working
-- catalog (draft) that imports write to, published versions copy it.
CREATE TABLE products (
    version     INTEGER NOT NULL,
    sku         TEXT NOT NULL,
    status      INTEGER NOT NULL,
    category    TEXT NOT NULL,
    brand       TEXT NOT NULL,
    channels    TEXT NOT NULL, -- ",web,b2b," for LIKE '%,web,%'
    etag        TEXT NOT NULL,
    data        TEXT NOT NULL, -- JSON of the product
    update_time TIMESTAMP NOT NULL,
    PRIMARY KEY (version, sku)
);

CREATE TABLE catalog_versions (
    version          INTEGER PRIMARY KEY,
    previous_version INTEGER NOT NULL,
    publish_time     TIMESTAMP NOT NULL,
    product_count    INTEGER NOT NULL,
    sellable_count   INTEGER NOT NULL,
    added_count      INTEGER NOT NULL,
    changed_count    INTEGER NOT NULL,
    removed_count    INTEGER NOT NULL,
    checksum         TEXT NOT NULL,
    note             TEXT NOT NULL,
    publisher_kind   TEXT NOT NULL,
    publisher_id     TEXT NOT NULL
);

-- One row: the current published version and the global price version.
CREATE TABLE catalog_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    current_version INTEGER NOT NULL,
    price_version   INTEGER NOT NULL
);
INSERT INTO catalog_state (id, current_version, price_version) VALUES (1, 0, 0);

-- Idempotency records of mutations carrying a request id.
CREATE TABLE idempotency (
    kind         TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    response     BLOB,
    create_time  TIMESTAMP NOT NULL,
    PRIMARY KEY (kind, request_id)
);

CREATE TABLE price_lists (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    currency     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    start_time   TIMESTAMP,
    end_time     TIMESTAMP,
    price_count  INTEGER NOT NULL,
    etag         TEXT NOT NULL,
    create_time  TIMESTAMP NOT NULL,
    update_time  TIMESTAMP NOT NULL
);
CREATE INDEX price_lists_currency ON price_lists (currency, channel);

CREATE TABLE prices (
    price_list_id TEXT NOT NULL REFERENCES price_lists (id) ON DELETE CASCADE,
    sku           TEXT NOT NULL,
    unit_minor    INTEGER NOT NULL,
    currency      TEXT NOT NULL,
    breaks        TEXT NOT NULL, -- JSON array of {q, p}
    etag          TEXT NOT NULL,
    update_time   TIMESTAMP NOT NULL,
    PRIMARY KEY (price_list_id, sku)
);
CREATE INDEX prices_sku ON prices (sku);
