-- Reconciliation runs and their variances.
CREATE TABLE reconciliations (
    id                      TEXT    NOT NULL PRIMARY KEY,
    request_id              TEXT    NOT NULL UNIQUE,
    request_hash            TEXT    NOT NULL,
    state                   BIGINT  NOT NULL,
    snapshot_source         TEXT    NOT NULL,
    snapshot_us             BIGINT  NOT NULL DEFAULT 0,
    apply_corrections       BIGINT  NOT NULL CHECK (apply_corrections IN (0, 1)),
    warehouse_codes         TEXT    NOT NULL,  -- JSON array; empty = all
    skus                    TEXT    NOT NULL,  -- JSON array; empty = all
    compared_count          BIGINT  NOT NULL DEFAULT 0,
    matched_count           BIGINT  NOT NULL DEFAULT 0,
    variance_count          BIGINT  NOT NULL DEFAULT 0,
    corrected_count         BIGINT  NOT NULL DEFAULT 0,
    skipped_count           BIGINT  NOT NULL DEFAULT 0,
    absolute_variance_total BIGINT  NOT NULL DEFAULT 0,
    error_message           TEXT    NOT NULL DEFAULT '',
    create_us               BIGINT  NOT NULL,
    end_us                  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX reconciliations_created ON reconciliations (create_us, id);

CREATE TABLE reconciliation_variances (
    reconciliation_id  TEXT    NOT NULL REFERENCES reconciliations (id),
    sku                TEXT    NOT NULL,
    warehouse_code     TEXT    NOT NULL,
    kind               BIGINT  NOT NULL,
    expected_on_hand   BIGINT  NOT NULL,
    transload_on_hand  BIGINT  NOT NULL,
    snapshot_sequence  BIGINT  NOT NULL,
    transload_sequence BIGINT  NOT NULL,
    corrected          BIGINT  NOT NULL CHECK (corrected IN (0, 1)),
    create_us          BIGINT  NOT NULL,
    PRIMARY KEY (reconciliation_id, sku, warehouse_code)
);
