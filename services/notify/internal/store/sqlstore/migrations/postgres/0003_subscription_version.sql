-- A counter bumped in the transaction of every subscription insert and
-- delete. The event consumers keep the set of subscriptions in memory and
-- re-read it whenever the counter moved (one point read per event), so an
-- event is acknowledged without a write only when no subscription
-- committed before the event was looked at can match it, on every replica.
CREATE TABLE subscription_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO subscription_version (id, version) VALUES (1, 0);
