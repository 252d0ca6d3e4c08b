-- The W3C traceparent of the request that queued the entry, so the worker
-- continues that trace when it talks to the ERP and the events it writes
-- (OrderConfirmed, OrderRejected) carry it on to their consumers.
ALTER TABLE erp_queue ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
