-- Coupons at placement (issue #11): the promotion codes the buyer entered
-- (upper-cased) and the promotions ("promotions/{id}") the placement quote
-- applied, whose uses catalog-pricing reserved for the order. JSON arrays,
-- '' for none (every order placed before this migration). Written once
-- with the order row, never updated: no extra statement per placement.
ALTER TABLE orders ADD COLUMN promotion_codes TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN applied_promotions TEXT NOT NULL DEFAULT '';
