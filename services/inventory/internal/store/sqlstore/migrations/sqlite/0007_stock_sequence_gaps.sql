-- Stock event gaps raised as STOCK_SEQUENCE_GAP exceptions (exception
-- desk), remembered so that each gap, (source, SKU, warehouse, expected
-- sequence), is raised once, also after a restart. A row is written in the
-- transaction that writes the exception to the outbox; rows of closed gaps
-- are deleted when the next gaps are raised.
CREATE TABLE stock_sequence_gaps (
    source_system     TEXT    NOT NULL,
    sku               TEXT    NOT NULL,
    warehouse_code    TEXT    NOT NULL,
    expected_sequence INTEGER NOT NULL,
    received_sequence INTEGER NOT NULL,
    raised_us         INTEGER NOT NULL,
    PRIMARY KEY (source_system, sku, warehouse_code, expected_sequence)
);
