-- Total backordered quantity of a reservation, so backorder allocation
-- finds candidates through a small partial index instead of scanning every
-- open reservation.
ALTER TABLE reservations ADD COLUMN backordered INTEGER NOT NULL DEFAULT 0;
CREATE INDEX reservations_backordered ON reservations (create_us, id) WHERE backordered > 0 AND state IN (1, 2);
