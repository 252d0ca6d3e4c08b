-- Financial documents (invoices per shipment, credit memos per received
-- return) and their posting to the ERP in journal batches. Documents are
-- written in the transaction of the change that caused them and never
-- change; posting state lives on the document lines (where the line is) and
-- in the batches. Amounts are positive minor units; the kind gives the
-- direction.
CREATE TABLE documents (
    document_id TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    order_id    TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    source_id   TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    created_us  BIGINT  NOT NULL
);
CREATE INDEX documents_order ON documents (order_id, created_us);

-- posting_state: 1 pending, 2 posted, 3 rejected, 4 duplicate (values of
-- order.v1 PostingLine.State). batch_id is the batch that holds the line
-- ('' = not in a batch: waiting to be collected).
CREATE TABLE document_lines (
    document_id         TEXT    NOT NULL REFERENCES documents (document_id),
    source_line_id      TEXT    NOT NULL,
    line_no             BIGINT  NOT NULL,
    kind                TEXT    NOT NULL,
    currency            TEXT    NOT NULL,
    order_line_id       TEXT    NOT NULL,
    sku                 TEXT    NOT NULL,
    quantity            BIGINT  NOT NULL,
    unit_price_minor    BIGINT  NOT NULL,
    tax_minor           BIGINT  NOT NULL,
    amount_minor        BIGINT  NOT NULL,
    created_us          BIGINT  NOT NULL,
    posting_state       BIGINT  NOT NULL DEFAULT 1,
    batch_id            TEXT    NOT NULL DEFAULT '',
    erp_document_number TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (document_id, source_line_id)
);
-- The poster collects unbatched pending lines of one kind and currency in
-- creation order.
CREATE INDEX document_lines_unbatched ON document_lines (kind, currency, created_us) WHERE batch_id = '';

-- Journal batches (order.v1 PostingBatch); state values are
-- PostingBatch.State's.
CREATE TABLE posting_batches (
    batch_id            TEXT    PRIMARY KEY,
    kind                TEXT    NOT NULL,
    currency            TEXT    NOT NULL,
    state               BIGINT  NOT NULL,
    create_request_id   TEXT    NOT NULL DEFAULT '',
    cutoff_us           BIGINT  NOT NULL,
    erp_batch_reference TEXT    NOT NULL DEFAULT '',
    attempt_count       BIGINT  NOT NULL DEFAULT 0,
    last_error          TEXT    NOT NULL DEFAULT '',
    created_us          BIGINT  NOT NULL,
    updated_us          BIGINT  NOT NULL,
    submitted_us        BIGINT  NOT NULL DEFAULT 0,
    version             BIGINT  NOT NULL
);
CREATE INDEX posting_batches_created ON posting_batches (created_us, batch_id);
CREATE INDEX posting_batches_state ON posting_batches (state, created_us);
CREATE UNIQUE INDEX posting_batches_request ON posting_batches (create_request_id) WHERE create_request_id <> '';

-- The lines of a batch as sent to the ERP (line_id = line_no within the
-- batch), with their outcome; state values are PostingLine.State's.
CREATE TABLE posting_batch_lines (
    batch_id            TEXT    NOT NULL REFERENCES posting_batches (batch_id),
    line_no             BIGINT  NOT NULL,
    document_id         TEXT    NOT NULL,
    source_line_id      TEXT    NOT NULL,
    order_id            TEXT    NOT NULL,
    customer_id         TEXT    NOT NULL,
    sku                 TEXT    NOT NULL,
    quantity            BIGINT  NOT NULL,
    amount_minor        BIGINT  NOT NULL,
    tax_minor           BIGINT  NOT NULL,
    account             TEXT    NOT NULL,
    line_hash           TEXT    NOT NULL,
    state               BIGINT  NOT NULL,
    rejection_reason    TEXT    NOT NULL DEFAULT '',
    erp_error_code      TEXT    NOT NULL DEFAULT '',
    erp_document_number TEXT    NOT NULL DEFAULT '',
    attempt_count       BIGINT  NOT NULL DEFAULT 0,
    posted_us           BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, line_no),
    UNIQUE (batch_id, document_id, source_line_id)
);
CREATE INDEX posting_batch_lines_hash ON posting_batch_lines (line_hash);
