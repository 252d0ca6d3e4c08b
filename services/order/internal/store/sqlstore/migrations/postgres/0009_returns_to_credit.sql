-- The once-a-second credit completion (order.Returns.CreditPosted over
-- Store.ReturnsToCredit) looks for RECEIVED returns with a credit, oldest
-- change first. Without an index it read every return ever made each
-- second; this partial index holds only returns with a credit and serves
-- the scan by state in its ORDER BY (updated_us, return_id), so it stops
-- at its LIMIT.
CREATE INDEX order_returns_to_credit ON order_returns (state, updated_us, return_id) WHERE credit_total_minor > 0;
