-- Reconciliation runs and their variances.
CREATE TABLE reconciliations (
    id                      TEXT    NOT NULL PRIMARY KEY,
    request_id              TEXT    NOT NULL UNIQUE,
    request_hash            TEXT    NOT NULL,
    state                   INTEGER NOT NULL,
    snapshot_source         TEXT    NOT NULL,
    snapshot_us             INTEGER NOT NULL DEFAULT 0,
    apply_corrections       INTEGER NOT NULL CHECK (apply_corrections IN (0, 1)),
    warehouse_codes         TEXT    NOT NULL,  -- JSON array; empty = all
    skus                    TEXT    NOT NULL,  -- JSON array; empty = all
    compared_count          INTEGER NOT NULL DEFAULT 0,
    matched_count           INTEGER NOT NULL DEFAULT 0,
    variance_count          INTEGER NOT NULL DEFAULT 0,
    corrected_count         INTEGER NOT NULL DEFAULT 0,
    skipped_count           INTEGER NOT NULL DEFAULT 0,
    absolute_variance_total INTEGER NOT NULL DEFAULT 0,
    error_message           TEXT    NOT NULL DEFAULT '',
    create_us               INTEGER NOT NULL,
    end_us                  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reconciliations_created ON reconciliations (create_us, id);

CREATE TABLE reconciliation_variances (
    reconciliation_id  TEXT    NOT NULL REFERENCES reconciliations (id),
    sku                TEXT    NOT NULL,
    warehouse_code     TEXT    NOT NULL,
    kind               INTEGER NOT NULL,
    expected_on_hand   INTEGER NOT NULL,
    transload_on_hand  INTEGER NOT NULL,
    snapshot_sequence  INTEGER NOT NULL,
    transload_sequence INTEGER NOT NULL,
    corrected          INTEGER NOT NULL CHECK (corrected IN (0, 1)),
    create_us          INTEGER NOT NULL,
    PRIMARY KEY (reconciliation_id, sku, warehouse_code)
);
