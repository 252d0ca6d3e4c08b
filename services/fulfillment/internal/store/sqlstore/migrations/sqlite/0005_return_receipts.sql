-- Receipts of returned goods the WMS reported, one per WMS receipt event
-- (unique on source and event id), matched to their expected return and
-- RMA; lines is the JSON of the received lines with their dispositions.
-- The hand-over to the order service is the pending_effects row of kind
-- order.record_return_receipt keyed by the receipt id.
CREATE TABLE return_receipts (
    id                       TEXT    PRIMARY KEY,
    source                   TEXT    NOT NULL,
    wms_event_id             TEXT    NOT NULL,
    wms_reference            TEXT    NOT NULL,
    expected_return_id       TEXT    NOT NULL,
    return_authorization_id  TEXT    NOT NULL,
    order_id                 TEXT    NOT NULL,
    customer_id              TEXT    NOT NULL,
    warehouse_id             TEXT    NOT NULL,
    lines                    TEXT    NOT NULL,
    receive_us               INTEGER  NOT NULL,
    create_us                INTEGER  NOT NULL,
    UNIQUE (source, wms_event_id)
);
CREATE INDEX return_receipts_order_receive ON return_receipts (order_id, receive_us, id);
CREATE INDEX return_receipts_receive ON return_receipts (receive_us, id);

-- The last sequence of fulfilment's own RETURN_RESTOCK stock events per
-- (SKU, warehouse) in inventory (source system fulfillment-returns).
CREATE TABLE restock_sequences (
    sku            TEXT    NOT NULL,
    warehouse_id   TEXT    NOT NULL,
    last_sequence  INTEGER  NOT NULL,
    PRIMARY KEY (sku, warehouse_id)
);
