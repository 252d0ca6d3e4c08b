-- While a worker sends an entry to the ERP it leases the entry until this
-- time (0 = not leased), so operators see it in flight; a worker that dies
-- mid-call leaves a lease that runs out on its own.
ALTER TABLE erp_queue ADD COLUMN lease_until_us BIGINT NOT NULL DEFAULT 0;

-- Per-customer head-of-line blockers and the customer filter of the queue
-- listing read the queue by customer in queue order.
CREATE INDEX erp_queue_customer ON erp_queue (customer_id, seq);
