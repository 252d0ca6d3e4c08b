-- RetryFulfillmentRequest idempotency: the last retry's request id and a
-- fingerprint of its payload.
ALTER TABLE fulfillment_requests ADD COLUMN retry_request_id TEXT NOT NULL DEFAULT '';
ALTER TABLE fulfillment_requests ADD COLUMN retry_fingerprint TEXT NOT NULL DEFAULT '';
