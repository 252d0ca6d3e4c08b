-- Request ids of UpdateWarehouse (idempotency).
CREATE TABLE warehouse_requests (
    request_id     TEXT NOT NULL PRIMARY KEY,
    request_hash   TEXT NOT NULL,
    warehouse_code TEXT NOT NULL REFERENCES warehouses (code)
);

-- ListReservations: newest first.
CREATE INDEX reservations_created ON reservations (create_us, id);
