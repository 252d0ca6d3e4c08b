-- Expected returns announced to the WMS for authorized return
-- authorizations (one per RMA × shipping warehouse), keyed by the id the
-- WMS registers them under. lines is the JSON of the lines with the order
-- line each returns, which the wms.v1 call has no field for; receipts are
-- matched to their RMA and order lines through this row.
CREATE TABLE expected_returns (
    id                       TEXT    PRIMARY KEY,
    return_authorization_id  TEXT    NOT NULL,
    order_id                 TEXT    NOT NULL,
    warehouse_id             TEXT    NOT NULL,
    lines                    TEXT    NOT NULL,
    create_us                BIGINT  NOT NULL
);
CREATE INDEX expected_returns_rma ON expected_returns (return_authorization_id);
