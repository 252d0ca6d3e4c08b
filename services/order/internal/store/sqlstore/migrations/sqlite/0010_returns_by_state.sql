-- The expiry of authorizations (order.Returns.ExpireAuthorized over
-- Store.AuthorizedBefore) looks for AUTHORIZED (state 2) returns last
-- changed before a cutoff, oldest first. 0009's index is partial on a
-- credit and does not hold them; this one holds only AUTHORIZED returns
-- (so the credit scan keeps its own index) in the scan's ORDER BY
-- (updated_us, return_id), so it reads only the expired ones.
CREATE INDEX order_returns_authorized ON order_returns (updated_us, return_id) WHERE state = 2;
