-- Orders and their parts. Times are unix microseconds UTC (BIGINT) so both
-- engines order and compare them the same way.
CREATE TABLE orders (
    order_id            TEXT    PRIMARY KEY,
    customer_id         TEXT    NOT NULL,
    channel             TEXT    NOT NULL,
    currency            TEXT    NOT NULL,
    ship_to             TEXT    NOT NULL,
    subtotal_minor      BIGINT  NOT NULL,
    tax_minor           BIGINT  NOT NULL,
    total_minor         BIGINT  NOT NULL,
    state               BIGINT  NOT NULL,
    rejection_reason    BIGINT  NOT NULL DEFAULT 0,
    rejection_message   TEXT    NOT NULL DEFAULT '',
    rejection_erp_code  TEXT    NOT NULL DEFAULT '',
    erp_order_ref       TEXT    NOT NULL DEFAULT '',
    create_request_id   TEXT    NOT NULL,
    customer_po         TEXT    NOT NULL DEFAULT '',
    reservation_id      TEXT    NOT NULL DEFAULT '',
    notes               TEXT    NOT NULL DEFAULT '',
    erp_attempts        BIGINT  NOT NULL DEFAULT 0,
    erp_last_attempt_us BIGINT  NOT NULL DEFAULT 0,
    erp_next_attempt_us BIGINT  NOT NULL DEFAULT 0,
    erp_last_error      TEXT    NOT NULL DEFAULT '',
    created_us          BIGINT  NOT NULL,
    updated_us          BIGINT  NOT NULL,
    confirmed_us        BIGINT  NOT NULL DEFAULT 0,
    version             BIGINT  NOT NULL
);
CREATE INDEX orders_created ON orders (created_us, order_id);
CREATE INDEX orders_customer_created ON orders (customer_id, created_us, order_id);

CREATE TABLE order_lines (
    order_id         TEXT    NOT NULL REFERENCES orders (order_id),
    line_no          BIGINT  NOT NULL,
    line_id          TEXT    NOT NULL,
    sku              TEXT    NOT NULL,
    quantity         BIGINT  NOT NULL,
    unit             TEXT    NOT NULL DEFAULT '',
    unit_price_minor BIGINT  NOT NULL,
    extended_minor   BIGINT  NOT NULL,
    price_rule_id    TEXT    NOT NULL DEFAULT '',
    price_quote_id   TEXT    NOT NULL DEFAULT '',
    shipped          BIGINT  NOT NULL DEFAULT 0,
    delivered        BIGINT  NOT NULL DEFAULT 0,
    returned         BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (order_id, line_id)
);

CREATE TABLE order_allocations (
    order_id     TEXT    NOT NULL REFERENCES orders (order_id),
    line_id      TEXT    NOT NULL,
    alloc_no     BIGINT  NOT NULL,
    warehouse_id TEXT    NOT NULL,
    allocated    BIGINT  NOT NULL,
    shipped      BIGINT  NOT NULL DEFAULT 0,
    delivered    BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (order_id, line_id, warehouse_id)
);

CREATE TABLE order_shipments (
    order_id               TEXT    NOT NULL REFERENCES orders (order_id),
    shipment_id            TEXT    NOT NULL,
    ship_no                BIGINT  NOT NULL,
    fulfillment_request_id TEXT    NOT NULL DEFAULT '',
    warehouse_id           TEXT    NOT NULL,
    tracking_number        TEXT    NOT NULL DEFAULT '',
    delivered              BIGINT  NOT NULL DEFAULT 0,
    lines                  TEXT    NOT NULL,
    updated_us             BIGINT  NOT NULL,
    PRIMARY KEY (order_id, shipment_id)
);

-- Append-only state history (also the order's audit trail).
CREATE TABLE order_history (
    order_id       TEXT    NOT NULL REFERENCES orders (order_id),
    seq            BIGINT  NOT NULL,
    from_state     BIGINT  NOT NULL,
    to_state       BIGINT  NOT NULL,
    at_us          BIGINT  NOT NULL,
    actor_kind     TEXT    NOT NULL DEFAULT '',
    actor_id       TEXT    NOT NULL DEFAULT '',
    reason         TEXT    NOT NULL DEFAULT '',
    correlation_id TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (order_id, seq)
);

-- Idempotency records: CreateOrder claims (pending → completed/failed, with
-- a lease so a crashed owner never blocks a request id forever), and
-- applied CancelOrder / RecordShipmentProgress keys.
CREATE TABLE idempotency_keys (
    kind           TEXT    NOT NULL,
    request_id     TEXT    NOT NULL,
    payload_hash   TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    order_id       TEXT    NOT NULL DEFAULT '',
    owner          TEXT    NOT NULL DEFAULT '',
    lease_until_us BIGINT  NOT NULL DEFAULT 0,
    failure        TEXT    NOT NULL DEFAULT '',
    created_us     BIGINT  NOT NULL,
    updated_us     BIGINT  NOT NULL,
    PRIMARY KEY (kind, request_id)
);
CREATE INDEX idempotency_pending ON idempotency_keys (kind, lease_until_us) WHERE status = 'pending';

-- The durable ERP queue, drained in seq (creation) order.
CREATE TABLE erp_queue (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        TEXT    NOT NULL,
    customer_id     TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_us BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_us      BIGINT  NOT NULL,
    UNIQUE (order_id, action)
);

-- Reservation releases still to be done (rejected or cancelled orders).
CREATE TABLE reservation_releases (
    order_id        TEXT    PRIMARY KEY,
    reservation_id  TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_us BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_us      BIGINT  NOT NULL
);

-- Last good ERP customer records, used while the ERP is down.
CREATE TABLE customers (
    customer_id            TEXT    PRIMARY KEY,
    display_name           TEXT    NOT NULL DEFAULT '',
    account_state          BIGINT  NOT NULL,
    currency               TEXT    NOT NULL DEFAULT '',
    allowed_channels       TEXT    NOT NULL DEFAULT '',
    has_credit_limit       BIGINT  NOT NULL DEFAULT 0,
    credit_currency        TEXT    NOT NULL DEFAULT '',
    credit_limit_minor     BIGINT  NOT NULL DEFAULT 0,
    available_credit_minor BIGINT  NOT NULL DEFAULT 0,
    fetched_us             BIGINT  NOT NULL
);
