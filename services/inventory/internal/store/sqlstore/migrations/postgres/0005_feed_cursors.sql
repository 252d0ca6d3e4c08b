-- Positions in the adapters' stock event feeds (ERP ListStockEvents).
CREATE TABLE feed_cursors (
    feed      TEXT    NOT NULL PRIMARY KEY,
    cursor    TEXT    NOT NULL,
    update_us BIGINT  NOT NULL
);
