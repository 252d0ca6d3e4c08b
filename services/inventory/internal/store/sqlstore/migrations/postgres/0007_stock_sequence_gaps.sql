-- Stock event gaps raised as STOCK_SEQUENCE_GAP exceptions (exception
-- desk), remembered so that each gap, (source, SKU, warehouse, expected
-- sequence), is raised once, also after a restart. A row is written in the
-- transaction that writes the exception to the outbox; rows of closed gaps
-- are deleted when the next gaps are raised.
CREATE TABLE stock_sequence_gaps (
    source_system     TEXT   NOT NULL,
    sku               TEXT   NOT NULL,
    warehouse_code    TEXT   NOT NULL,
    expected_sequence BIGINT NOT NULL,
    received_sequence BIGINT NOT NULL,
    raised_us         BIGINT NOT NULL,
    PRIMARY KEY (source_system, sku, warehouse_code, expected_sequence)
);
