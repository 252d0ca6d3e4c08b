-- The durable cursor of the ERP price change feed (erpsync): per ERP, the
-- cursor after the last applied price event, that event's source_sequence,
-- and the ERP price list → catalog price lists map of the last full export
-- (JSON), so a restart resumes the feed where it stopped instead of
-- running a full export. update_time is in Unix microseconds.
CREATE TABLE erp_feed_cursors (
    erp         TEXT PRIMARY KEY,
    feed_cursor TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    lists_json  TEXT NOT NULL,
    update_time BIGINT NOT NULL
);
