-- Return authorizations (RMA), issue #9. Lines (with their received
-- quantities by disposition and credits) and the state history are JSON:
-- they change only with the return, which is read and written whole under
-- its order's row lock.
CREATE TABLE order_returns (
    return_id            TEXT    NOT NULL PRIMARY KEY,
    order_id             TEXT    NOT NULL REFERENCES orders (order_id),
    customer_id          TEXT    NOT NULL,
    channel              TEXT    NOT NULL,
    currency             TEXT    NOT NULL,
    state                INTEGER NOT NULL,
    comment              TEXT    NOT NULL DEFAULT '',
    rejection_message    TEXT    NOT NULL DEFAULT '',
    refund_minor         BIGINT  NOT NULL DEFAULT 0,
    credit_total_minor   BIGINT  NOT NULL DEFAULT 0,
    credit_memo_ref      TEXT    NOT NULL DEFAULT '',
    replacement_order_id TEXT    NOT NULL DEFAULT '',
    create_request_id    TEXT    NOT NULL,
    lines                TEXT    NOT NULL,
    history              TEXT    NOT NULL,
    created_us           BIGINT  NOT NULL,
    updated_us           BIGINT  NOT NULL,
    received_us          BIGINT  NOT NULL DEFAULT 0,
    credited_us          BIGINT  NOT NULL DEFAULT 0,
    version              BIGINT  NOT NULL
);
CREATE INDEX order_returns_order ON order_returns (order_id, created_us);
CREATE INDEX order_returns_created ON order_returns (created_us, return_id);
CREATE INDEX order_returns_customer ON order_returns (customer_id, created_us);
