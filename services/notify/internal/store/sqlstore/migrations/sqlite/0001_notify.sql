-- Webhook subscriptions, their delivery queue and the delivery log.
-- Times are UTC Unix microseconds; 0 means unset.
CREATE TABLE subscriptions (
    id                   TEXT    PRIMARY KEY,
    channel              TEXT    NOT NULL,
    customer_id          TEXT    NOT NULL DEFAULT '',
    target_uri           TEXT    NOT NULL,
    event_types          INTEGER NOT NULL, -- bit 1<<type per notify.v1.EventType
    display_name         TEXT    NOT NULL DEFAULT '',
    secret               TEXT    NOT NULL,
    old_secret           TEXT    NOT NULL DEFAULT '',
    old_secret_until     INTEGER NOT NULL DEFAULT 0,
    state                INTEGER NOT NULL, -- 1 active, 2 disabled
    state_message        TEXT    NOT NULL DEFAULT '',
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    create_time          INTEGER NOT NULL,
    last_success_time    INTEGER NOT NULL DEFAULT 0,
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
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT    NOT NULL UNIQUE, -- the webhook-id
    subscription_id   TEXT    NOT NULL,
    event_id          TEXT    NOT NULL,
    event_type        INTEGER NOT NULL,
    resource          TEXT    NOT NULL,
    ordering_key      TEXT    NOT NULL,
    position          INTEGER NOT NULL, -- queue order; a redelivery moves to the end
    body              BLOB    NOT NULL,
    event_time        INTEGER NOT NULL,
    create_time       INTEGER NOT NULL,
    state             INTEGER NOT NULL, -- 1 pending, 2 delivered, 3 failed
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_time INTEGER NOT NULL,
    deliver_time      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX deliveries_queue ON deliveries (subscription_id, state, position);
CREATE INDEX deliveries_key ON deliveries (subscription_id, ordering_key, state, position);

CREATE TABLE delivery_attempts (
    delivery_id  TEXT    NOT NULL,
    attempt      INTEGER NOT NULL,
    attempt_time INTEGER NOT NULL,
    status_code  INTEGER NOT NULL,
    latency_us   INTEGER NOT NULL,
    error        TEXT    NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
