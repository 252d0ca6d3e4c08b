-- CancelFulfillment calls, keyed by their request id; an order with a row
-- here is cancelled, so a later OrderConfirmedEvent creates no request.
CREATE TABLE fulfillment_cancellations (
    request_id   TEXT    PRIMARY KEY,
    order_id     TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    create_us    INTEGER NOT NULL
);
CREATE INDEX fulfillment_cancellations_order ON fulfillment_cancellations (order_id);
