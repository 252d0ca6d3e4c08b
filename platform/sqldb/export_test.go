package sqldb

// GroupWaiters reports how many InTx calls wait for their turn in db's
// group commit (0 without group commit), so tests can line members up in
// one batch without sleeping.
func GroupWaiters(db *DB) int {
	if db.group == nil {
		return 0
	}
	db.group.mu.Lock()
	defer db.group.mu.Unlock()
	return len(db.group.queue)
}
