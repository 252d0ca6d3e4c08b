-- The price change feed (erp.v1 ListPriceEvents / WatchPriceEvents): one
-- row per list price changed through the control API, numbered 1, 2, 3, ...
-- without gaps by the price_event counter, written in the same transaction
-- as the list_prices row it changes.
INSERT INTO erp_counters (name, value) VALUES ('price_event', 0);

CREATE TABLE price_events (
    seq              BIGINT PRIMARY KEY,
    event_id         TEXT NOT NULL UNIQUE,
    price_list_id    TEXT NOT NULL,
    sku              TEXT NOT NULL,
    uom              TEXT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    occur_time       BIGINT NOT NULL
);
