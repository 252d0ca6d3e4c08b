-- Pricing rules (customer contracts, channel rules, promotions). The
-- draft: every rule as the Update RPCs last wrote it (published or
-- staged), one JSON body per rule.
CREATE TABLE pricing_rules (
    kind        TEXT NOT NULL, -- contract, channel_rule, promotion
    id          TEXT NOT NULL,
    body        TEXT NOT NULL,
    etag        TEXT NOT NULL,
    create_time TIMESTAMP NOT NULL,
    update_time TIMESTAMP NOT NULL,
    PRIMARY KEY (kind, id)
);

-- The whole rule set each price version published (JSON), for quoting,
-- publication and republishing an earlier version.
CREATE TABLE pricing_rule_sets (
    price_version INTEGER PRIMARY KEY,
    digest        TEXT NOT NULL,
    body          TEXT NOT NULL
);

-- Cost price of an entry when the feed sends one (channel margin floors).
ALTER TABLE prices ADD COLUMN cost_minor INTEGER;

-- The price version of the rule set quotes use (0: none published).
ALTER TABLE catalog_state ADD COLUMN rules_version INTEGER NOT NULL DEFAULT 0;

-- Promotion redemptions: one row per promotion of a reservation; state
-- reserved or committed counts against the limits, released does not.
CREATE TABLE promotion_redemptions (
    reservation_id TEXT NOT NULL,
    promotion_id   TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    state          TEXT NOT NULL,
    update_time    TIMESTAMP NOT NULL,
    PRIMARY KEY (reservation_id, promotion_id)
);
CREATE INDEX promotion_redemptions_promotion ON promotion_redemptions (promotion_id, customer_id);
