-- Leases for singleton background work (the ERP queue worker): with several
-- replicas on one database only the lease holder drains the queue, so
-- submissions keep their creation order.
CREATE TABLE worker_leases (
    name     TEXT    PRIMARY KEY,
    holder   TEXT    NOT NULL,
    until_us BIGINT  NOT NULL
);

CREATE INDEX idempotency_finished ON idempotency_keys (updated_us) WHERE status <> 'pending';
