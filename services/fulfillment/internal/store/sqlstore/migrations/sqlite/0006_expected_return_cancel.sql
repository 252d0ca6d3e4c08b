-- An expected return whose return authorization was closed without
-- receipt (cancelled or expired in the order service) is cancelled at the
-- WMS; cancel_us (0 while expected) records when, so a registration still
-- queued is skipped and a parcel received afterwards is raised for the
-- exception desk instead of being restocked and reported.
ALTER TABLE expected_returns ADD COLUMN cancel_us INTEGER NOT NULL DEFAULT 0;
