-- The delivery-log retention (PruneDeliveries) takes the oldest finished
-- deliveries first: an index instead of a scan of the whole log per pass.
CREATE INDEX deliveries_retention ON deliveries (state, create_time);
