-- ListOrders sorts and pages by last update (order_by update_time) as it
-- does by creation, so keyset pages read the index instead of sorting the
-- table.
CREATE INDEX orders_updated ON orders (updated_us, order_id);
