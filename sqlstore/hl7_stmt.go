package sqlstore

// prepare readies queries in the write pool's statement cache before their
// first use (the HL7 listener runs the same dozen statements for every
// message; see stmtCache in groupcommit.go). Call it outside any
// transaction. PostgreSQL's driver caches statements itself.
func (db *DB) prepare(queries ...string) error {
	if db.Engine != SQLite {
		return nil
	}
	c := &db.wstmts
	c.mu.Lock()
	missing := false
	for _, query := range queries {
		if c.wantLocked(db.rebind(query)) {
			missing = true
		}
	}
	c.mu.Unlock()
	if missing {
		c.fill(db.w)
	}
	return nil
}
