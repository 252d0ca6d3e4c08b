-- Enqueue and Redeliver take MAX(position) + 1, and the delivery log pages
-- a subscription's deliveries by position: both read an index instead of
-- scanning the table as the log grows.
CREATE INDEX deliveries_position ON deliveries (position);
CREATE INDEX deliveries_log ON deliveries (subscription_id, position);
