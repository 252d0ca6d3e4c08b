-- Customer contracts (erp.v1 CustomerContract), exported by
-- StreamPriceExport with include_contracts and changed through the control
-- API (POST /control/prices). body is the JSON of erp.Contract. The demo
-- contract is seeded by Go (Store.Seed), also into stores seeded before
-- this migration (marker contracts_seeded_at in erp_meta).
CREATE TABLE contracts (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    body        TEXT NOT NULL,
    update_time BIGINT NOT NULL
);

-- A contract change in the price feed carries the whole contract as it is
-- after the change (JSON of erp.Contract); list price columns are empty
-- then. NULL for list price changes.
ALTER TABLE price_events ADD COLUMN contract TEXT;
