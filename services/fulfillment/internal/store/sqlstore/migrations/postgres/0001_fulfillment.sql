CREATE TABLE fulfillment_requests (
    id               TEXT    PRIMARY KEY,
    order_id         TEXT    NOT NULL,
    customer_id      TEXT    NOT NULL,
    warehouse_id     TEXT    NOT NULL,
    ship_to          TEXT    NOT NULL,
    lines            TEXT    NOT NULL,
    state            BIGINT  NOT NULL,
    wms_reference    TEXT    NOT NULL DEFAULT '',
    attempt_count    BIGINT  NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    reservation_id   TEXT    NOT NULL DEFAULT '',
    source_event_id  TEXT    NOT NULL DEFAULT '',
    cancel_reason    TEXT    NOT NULL DEFAULT '',
    customer_po      TEXT    NOT NULL DEFAULT '',
    create_us        BIGINT  NOT NULL,
    update_us        BIGINT  NOT NULL,
    acknowledge_us   BIGINT  NOT NULL DEFAULT 0,
    next_attempt_us  BIGINT  NOT NULL DEFAULT 0,
    version          BIGINT  NOT NULL DEFAULT 1
);
CREATE INDEX fulfillment_requests_order ON fulfillment_requests (order_id, create_us, id);
CREATE INDEX fulfillment_requests_create ON fulfillment_requests (create_us, id);
CREATE INDEX fulfillment_requests_due ON fulfillment_requests (state, next_attempt_us);

CREATE TABLE shipments (
    id               TEXT    PRIMARY KEY,
    order_id         TEXT    NOT NULL,
    customer_id      TEXT    NOT NULL,
    request_id       TEXT    NOT NULL REFERENCES fulfillment_requests (id),
    warehouse_id     TEXT    NOT NULL,
    wms_reference    TEXT    NOT NULL,
    carrier          TEXT    NOT NULL DEFAULT '',
    service_level    TEXT    NOT NULL DEFAULT '',
    tracking_number  TEXT    NOT NULL DEFAULT '',
    tracking_url     TEXT    NOT NULL DEFAULT '',
    lines            TEXT    NOT NULL,
    state            BIGINT  NOT NULL,
    max_progress     BIGINT  NOT NULL,
    history          TEXT    NOT NULL,
    exception_detail TEXT    NOT NULL DEFAULT '',
    reservation_id   TEXT    NOT NULL DEFAULT '',
    ship_us          BIGINT  NOT NULL DEFAULT 0,
    delivery_us      BIGINT  NOT NULL DEFAULT 0,
    create_us        BIGINT  NOT NULL,
    update_us        BIGINT  NOT NULL,
    version          BIGINT  NOT NULL DEFAULT 1,
    UNIQUE (request_id, wms_reference)
);
CREATE INDEX shipments_order_create ON shipments (order_id, create_us, id);
CREATE INDEX shipments_create ON shipments (create_us, id);
CREATE INDEX shipments_update ON shipments (update_us, id);

-- Every WMS event seen, keyed by (source, event id), with its outcome:
-- de-duplication and the exception desk's record of rejected events.
CREATE TABLE wms_events (
    source       TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    request_id   TEXT    NOT NULL DEFAULT '',
    outcome      TEXT    NOT NULL,
    reason       TEXT    NOT NULL DEFAULT '',
    detail       TEXT    NOT NULL DEFAULT '',
    payload      BYTEA,
    record_us    BIGINT  NOT NULL,
    PRIMARY KEY (source, event_id)
);

CREATE TABLE wms_cursors (
    source     TEXT    PRIMARY KEY,
    cursor     TEXT    NOT NULL,
    update_us  BIGINT  NOT NULL
);

-- Outbound calls to neighbours, recorded with the change that requires
-- them and executed with retries until they succeed (or fail permanently).
CREATE TABLE pending_effects (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT    NOT NULL,
    effect_key      TEXT    NOT NULL,
    order_id        TEXT    NOT NULL,
    payload         BYTEA    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'PENDING',
    attempts        BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    next_attempt_us BIGINT  NOT NULL DEFAULT 0,
    create_us       BIGINT  NOT NULL,
    done_us         BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (kind, effect_key)
);
CREATE INDEX pending_effects_due ON pending_effects (state, next_attempt_us, id);
