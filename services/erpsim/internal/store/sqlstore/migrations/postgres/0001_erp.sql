-- erpsim: the simulated ERP's master data, documents and feeds.
-- Times are BIGINT microseconds since the Unix epoch (UTC); lists and
-- addresses are JSON text.
CREATE TABLE erp_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE erp_counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO erp_counters (name, value) VALUES
    ('sales_order', 0), ('erp_order_number', 0), ('stock_event', 0), ('fi_document', 0);

CREATE TABLE customers (
    id                 TEXT PRIMARY KEY,
    display_name       TEXT NOT NULL,
    account_state      INTEGER NOT NULL,
    has_credit_limit   INTEGER NOT NULL,
    credit_limit_minor BIGINT NOT NULL,
    open_balance_minor BIGINT NOT NULL,
    currency           TEXT NOT NULL,
    terms_code         TEXT NOT NULL,
    terms_desc         TEXT NOT NULL,
    terms_net_days     INTEGER NOT NULL,
    prepayment         INTEGER NOT NULL,
    allowed_channels   TEXT NOT NULL,
    price_list_ids     TEXT NOT NULL,
    bill_to            TEXT NOT NULL,
    ship_tos           TEXT NOT NULL,
    update_time        BIGINT NOT NULL
);
CREATE INDEX customers_update_time ON customers (update_time, id);

CREATE TABLE products (
    sku         TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    uom         TEXT NOT NULL,
    sales_state INTEGER NOT NULL,
    channels    TEXT NOT NULL,
    category    TEXT NOT NULL,
    gtin        TEXT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE TABLE price_lists (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    currency     TEXT NOT NULL,
    channels     TEXT NOT NULL
);

CREATE TABLE list_prices (
    price_list_id    TEXT NOT NULL REFERENCES price_lists (id),
    sku              TEXT NOT NULL REFERENCES products (sku),
    uom              TEXT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    PRIMARY KEY (price_list_id, sku, uom)
);

CREATE TABLE warehouses (
    code         TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    region       TEXT NOT NULL,
    address      TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    channels     TEXT NOT NULL,
    active       INTEGER NOT NULL
);

CREATE TABLE stock (
    sku             TEXT NOT NULL REFERENCES products (sku),
    warehouse_code  TEXT NOT NULL REFERENCES warehouses (code),
    on_hand         BIGINT NOT NULL CHECK (on_hand >= 0),
    uom             TEXT NOT NULL,
    source_sequence BIGINT NOT NULL,
    PRIMARY KEY (sku, warehouse_code)
);

CREATE TABLE stock_events (
    seq             BIGINT PRIMARY KEY,
    event_id        TEXT NOT NULL UNIQUE,
    sku             TEXT NOT NULL,
    warehouse_code  TEXT NOT NULL,
    kind            INTEGER NOT NULL,
    quantity        BIGINT NOT NULL,
    uom             TEXT NOT NULL,
    source_sequence BIGINT NOT NULL,
    occur_time      BIGINT NOT NULL,
    reference       TEXT NOT NULL,
    reason_code     TEXT NOT NULL,
    counterpart     TEXT NOT NULL
);

CREATE TABLE sales_orders (
    order_id          TEXT PRIMARY KEY,
    seq               BIGINT NOT NULL UNIQUE,
    customer_id       TEXT NOT NULL,
    channel           TEXT NOT NULL,
    currency          TEXT NOT NULL,
    grand_total_minor BIGINT NOT NULL,
    lines             TEXT NOT NULL,
    payload           BYTEA NOT NULL,
    fingerprint       TEXT NOT NULL,
    state             INTEGER NOT NULL,
    erp_order_number  TEXT NOT NULL,
    rejection_reason  INTEGER NOT NULL,
    rejection_message TEXT NOT NULL,
    cancel_reason     TEXT NOT NULL,
    submissions       INTEGER NOT NULL,
    create_time       BIGINT NOT NULL,
    update_time       BIGINT NOT NULL
);

CREATE TABLE journal_batches (
    batch_id    TEXT PRIMARY KEY,
    kind        INTEGER NOT NULL,
    lines       TEXT NOT NULL,
    payload     BYTEA NOT NULL,
    fingerprint TEXT NOT NULL,
    results     TEXT NOT NULL,
    create_time BIGINT NOT NULL
);

CREATE TABLE posted_journal_lines (
    line_hash           TEXT PRIMARY KEY,
    erp_document_number TEXT NOT NULL,
    batch_id            TEXT NOT NULL REFERENCES journal_batches (batch_id)
);
