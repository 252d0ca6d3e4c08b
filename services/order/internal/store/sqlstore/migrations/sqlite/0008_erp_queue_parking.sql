-- Poison entries (issue #14). strikes counts an entry's failures that were
-- its own (the ERP answered it with an error, or it could not be sent)
-- rather than an ERP outage's, since it was queued or an operator last
-- retried it; parked_us is when it was parked on reaching the queue's
-- strike limit (0 = not parked). A parked entry is not sent and holds back
-- none of its customer's later entries until an operator retries it.
ALTER TABLE erp_queue ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE erp_queue ADD COLUMN parked_us INTEGER NOT NULL DEFAULT 0;
