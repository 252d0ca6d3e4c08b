-- Webhook subscriptions, their delivery queue and the delivery log.
-- Times are UTC Unix microseconds; 0 means unset.
CREATE TABLE subscriptions (
    id                   TEXT    PRIMARY KEY,
    channel              TEXT    NOT NULL,
    customer_id          TEXT    NOT NULL DEFAULT '',
    target_uri           TEXT    NOT NULL,
    event_types          BIGINT  NOT NULL, -- bit 1<<type per notify.v1.EventType
    display_name         TEXT    NOT NULL DEFAULT '',
    secret               TEXT    NOT NULL,
    old_secret           TEXT    NOT NULL DEFAULT '',
    old_secret_until     BIGINT  NOT NULL DEFAULT 0,
    state                BIGINT  NOT NULL, -- 1 active, 2 disabled
    state_message        TEXT    NOT NULL DEFAULT '',
    consecutive_failures BIGINT  NOT NULL DEFAULT 0,
    create_time          BIGINT  NOT NULL,
    last_success_time    BIGINT  NOT NULL DEFAULT 0,
    request_id           TEXT    NOT NULL DEFAULT '',
    request_hash         TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX subscriptions_owner ON subscriptions (channel, create_time, id);
CREATE UNIQUE INDEX subscriptions_request ON subscriptions (channel, customer_id, request_id) WHERE request_id <> '';

-- Channel and customer of each order seen on the order stream, so a
-- shipment event (which names no channel) reaches the right subscriptions.
CREATE TABLE order_owners (
    order_id    TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    customer_id TEXT NOT NULL
);

CREATE TABLE deliveries (
    seq               BIGSERIAL PRIMARY KEY,
    id                TEXT    NOT NULL UNIQUE, -- the webhook-id
    subscription_id   TEXT    NOT NULL,
    event_id          TEXT    NOT NULL,
    event_type        BIGINT  NOT NULL,
    resource          TEXT    NOT NULL,
    ordering_key      TEXT    NOT NULL,
    position          BIGINT  NOT NULL, -- queue order; a redelivery moves to the end
    body              BYTEA   NOT NULL,
    event_time        BIGINT  NOT NULL,
    create_time       BIGINT  NOT NULL,
    state             BIGINT  NOT NULL, -- 1 pending, 2 delivered, 3 failed
    attempts          BIGINT  NOT NULL DEFAULT 0,
    next_attempt_time BIGINT  NOT NULL,
    deliver_time      BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX deliveries_queue ON deliveries (subscription_id, state, position);
CREATE INDEX deliveries_key ON deliveries (subscription_id, ordering_key, state, position);

CREATE TABLE delivery_attempts (
    delivery_id  TEXT    NOT NULL,
    attempt      BIGINT  NOT NULL,
    attempt_time BIGINT  NOT NULL,
    status_code  BIGINT  NOT NULL,
    latency_us   BIGINT  NOT NULL,
    error        TEXT    NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
