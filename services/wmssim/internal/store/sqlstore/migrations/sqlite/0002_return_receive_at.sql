-- When the simulated warehouse receives an expected return on its own
-- (WMSSIM_RETURN_RECEIPT_DELAY after registration); NULL when it waits for
-- the control API.
ALTER TABLE expected_returns ADD COLUMN receive_at TIMESTAMP;
CREATE INDEX expected_returns_due ON expected_returns (receive_at) WHERE receive_at IS NOT NULL;
