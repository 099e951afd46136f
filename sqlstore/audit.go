package sqlstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// This file is `relais audit verify`: it checks that the journal is intact
// and that the data it describes is what the journal says it is.
//
// Three things are checked, in one consistent snapshot of the database:
//  1. every chain (the local site's and the ones replicated from other
//     sites): sequence, previous-hash links and hashes, and the signed
//     checkpoints; for the local chain, also the journal head;
//  2. every entity the local chain describes: its row, read back as Relais
//     reads it, must equal the after-image of its last entry (a row changed
//     or deleted outside Relais no longer does);
//  3. every row of a journaled table must be described by some entry (a row
//     inserted outside Relais is not).

// pageSize bounds how many entries or rows are held in memory at once (a
// variable so that tests can make pages small).
var pageSize = 1000

// VerifyOptions tune VerifyJournalWith.
type VerifyOptions struct {
	// PublicKeys are the local site's public keys obtained independently of
	// this database (an inspector's copy, `--pubkey`). When empty the key in
	// the site table is used, which someone able to rewrite the database
	// could have replaced too.
	PublicKeys []ed25519.PublicKey
	// Since, when set, verifies each chain only from its last checkpoint
	// signed at or before Since that verifies with a trusted key: that
	// checkpoint vouches for the entries up to its own, which are not read.
	// Only the entities written from there on are compared with their rows.
	// A chain without such a checkpoint is verified whole. Rows inserted
	// outside Relais are still looked for in every table.
	Since time.Time
}

// Report is what VerifyJournal found.
type Report struct {
	Site         string           // the local site
	Chains       []ChainReport    // the local chain first, then the others by site
	Entities     int64            // entities whose row was compared with their last entry
	Rows         int64            // rows of journaled tables checked for an entry describing them
	Tables       []string         // those tables
	Unverifiable map[string]int64 // entity → how many the chain describes that Relais cannot read back
	Faults       []AuditFault     // in chain order; rows no entry describes come last
}

// ChainReport is the audit of one site's chain.
type ChainReport struct {
	journal.ChainSummary
	Remote bool
	// KeySource says which key checked the checkpoints: "given" (the caller's
	// independent copy), "site table", or "" (none: each checkpoint was only
	// checked against the key it carries).
	KeySource string
	// From is the checkpoint the audit started from (VerifyOptions.Since);
	// nil when the chain was verified from its first entry.
	From *journal.Checkpoint
}

// FaultKind says what kind of tampering a fault reveals.
type FaultKind string

const (
	FaultChain      FaultKind = "chain"      // an entry or checkpoint no longer matches the chain
	FaultHead       FaultKind = "head"       // the journal head does not match the chain's last entry
	FaultChanged    FaultKind = "changed"    // a row differs from its last entry's after-image
	FaultDeleted    FaultKind = "deleted"    // a row the journal says exists is missing
	FaultReappeared FaultKind = "reappeared" // a row the journal says was removed exists
	FaultUnreadable FaultKind = "unreadable" // a row cannot be read back at all
	FaultInserted   FaultKind = "inserted"   // a row no entry describes
)

// AuditFault is one place where the journal or the data no longer matches.
type AuditFault struct {
	Kind     FaultKind
	Site     string // the chain's site
	Remote   bool   // another site's chain
	Seq      int64  // the entry at fault (or that last described the row); 0 for a row no entry describes
	EntryID  string
	Action   string
	Entity   string
	EntityID string
	Table    string // for rows no entry describes
	Field    string // first differing field of a changed row, as a JSON path ("" for the whole row)
	Reason   string
}

func (f AuditFault) String() string {
	var b strings.Builder
	if f.Seq > 0 {
		fmt.Fprintf(&b, "journal entry %d", f.Seq)
		if f.EntryID != "" {
			fmt.Fprintf(&b, " (%s)", f.EntryID)
		}
		if f.Remote {
			fmt.Fprintf(&b, " of site %s", f.Site)
		}
	} else {
		fmt.Fprintf(&b, "%s row %s", f.Table, f.EntityID)
	}
	b.WriteString(": ")
	b.WriteString(f.Reason)
	return b.String()
}

// OK reports whether nothing was found.
func (r *Report) OK() bool { return len(r.Faults) == 0 }

// First returns the earliest fault, nil when there is none.
func (r *Report) First() *AuditFault {
	if len(r.Faults) == 0 {
		return nil
	}
	return &r.Faults[0]
}

// Entries is the number of entries checked, all chains together.
func (r *Report) Entries() int64 {
	var n int64
	for _, c := range r.Chains {
		n += c.Entries
	}
	return n
}

// VerifyJournal checks the journal and the data it describes, using the
// site table's keys for the checkpoints.
func (db *DB) VerifyJournal(ctx context.Context) (Report, error) {
	return db.VerifyJournalWith(ctx, VerifyOptions{})
}

// VerifyJournalWith checks the journal and the data it describes. It never
// writes. The error is for a database that cannot be read; what does not
// match is in the report's faults.
func (db *DB) VerifyJournalWith(ctx context.Context, opts VerifyOptions) (Report, error) {
	const op = "audit.verify"
	rep := Report{Site: db.Site, Unverifiable: map[string]int64{}}
	err := db.snapshot(ctx, func(tx *Tx) error {
		sites, err := chainSites(tx, db.Site)
		if err != nil {
			return err
		}
		var local *journal.ChainAudit
		audits := map[string]*journal.ChainAudit{}
		from := map[string]int64{} // site → the entry after which its audit started
		for rank, site := range sites {
			a, cr, err := auditChain(tx, site, site == db.Site, opts)
			if err != nil {
				return err
			}
			for _, f := range cr.Faults {
				rep.Faults = append(rep.Faults, chainFault(site, rank, f))
			}
			audits[site] = a
			if cr.From != nil {
				from[site] = cr.From.Seq - 1
			}
			if site == db.Site {
				local = a
				if f, bad, err := checkHead(tx, cr.ChainSummary); err != nil {
					return err
				} else if bad {
					rep.Faults = append(rep.Faults, f)
				}
			}
			rep.Chains = append(rep.Chains, cr)
		}
		if err := checkEntities(tx, rep.Site, local, from[rep.Site], &rep); err != nil {
			return err
		}
		// A crisis node's own chain continues its site's: its entities are
		// checked against it (see continuedElsewhere).
		if c := db.ChainSite(); c != db.Site && audits[c] != nil {
			if err := checkEntities(tx, c, audits[c], from[c], &rep); err != nil {
				return err
			}
		}
		if err := checkGenesisRows(tx, &rep); err != nil {
			return err
		}
		return checkUndescribedRows(tx, &rep)
	})
	if err != nil {
		return rep, relais.E(op, err)
	}
	// Chain order: the local chain, then the other chains, each by sequence;
	// rows that no entry describes last. The sort is stable so that, for one
	// entry, the fault of the entry comes before the fault of its row.
	rank := map[string]int{}
	for i, c := range rep.Chains {
		rank[c.Site] = i
	}
	key := func(f AuditFault) (int, int64) {
		if f.Seq == 0 {
			return len(rep.Chains), 0
		}
		return rank[f.Site], f.Seq
	}
	sort.SliceStable(rep.Faults, func(i, j int) bool {
		ri, si := key(rep.Faults[i])
		rj, sj := key(rep.Faults[j])
		if ri != rj {
			return ri < rj
		}
		return si < sj
	})
	return rep, nil
}

// snapshot runs fn in a read-only transaction that sees one state of the
// database throughout, so that writes made while verifying are not taken for
// tampering. (SQLite in WAL mode keeps the snapshot of a transaction's first
// read; PostgreSQL needs REPEATABLE READ for that.)
func (db *DB) snapshot(ctx context.Context, fn func(tx *Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.Engine == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	sqltx, err := db.r.BeginTx(ctx, opts)
	if err != nil {
		return relais.E(relais.KindUnavailable, mapErr(err))
	}
	defer sqltx.Rollback()
	actor, _ := relais.ActorFrom(ctx)
	return fn(&Tx{db: db, tx: sqltx, ctx: ctx, actor: actor, now: relais.Now()})
}

// chainSites lists the sites that have a chain here, the local one first.
func chainSites(tx *Tx, local string) ([]string, error) {
	rows, err := tx.Query("SELECT site FROM journal_head UNION SELECT DISTINCT site FROM journal")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var others []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		if s != local {
			others = append(others, s)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Strings(others)
	return append([]string{local}, others...), nil
}

// auditChain walks one chain in pages with its checkpoints.
func auditChain(tx *Tx, site string, local bool, opts VerifyOptions) (*journal.ChainAudit, ChainReport, error) {
	cr := ChainReport{Remote: !local}
	keys := []ed25519.PublicKey(nil)
	if local && len(opts.PublicKeys) > 0 {
		keys, cr.KeySource = opts.PublicKeys, "given"
	} else {
		var stored string
		err := tx.QueryRow("SELECT public_key FROM site WHERE id = ?", site).Scan(&stored)
		if err != nil && relais.ErrorKind(mapErr(err)) != relais.KindNotFound {
			return nil, cr, mapErr(err)
		}
		if stored != "" {
			k, err := journal.ParsePublicKey(stored)
			if err != nil {
				// A damaged key cannot vouch for anything: check against no
				// key at all, so every checkpoint fails visibly.
				keys = []ed25519.PublicKey{make(ed25519.PublicKey, ed25519.PublicKeySize)}
			} else {
				keys = []ed25519.PublicKey{k}
			}
			cr.KeySource = "site table"
		}
	}
	cps, err := checkpointsTx(tx, site)
	if err != nil {
		return nil, cr, err
	}
	var after int64
	var resume *journal.Entry // the checkpoint's entry, where a partial audit starts
	if !opts.Since.IsZero() {
		if cp, ok := journal.LastSignedBy(cps, keys, opts.Since); ok {
			first, err := entriesPage(tx, site, cp.Seq-1, 1)
			if err != nil {
				return nil, cr, err
			}
			// When the checkpoint's entry is gone the whole chain is
			// walked, and the audit reports the checkpoint beyond its end.
			if len(first) == 1 && first[0].Seq == cp.Seq {
				cr.From, resume, after = &cp, &first[0], cp.Seq-1
				kept := []journal.Checkpoint{}
				for _, c := range cps {
					if c.Seq >= cp.Seq {
						kept = append(kept, c)
					}
				}
				cps = kept
			}
		}
	}
	a := journal.NewChainAudit(site, keys, cps)
	if resume != nil {
		// Start at the checkpoint's own entry, taking its link to the
		// entry before as given: its hash is recomputed and compared with
		// the signed one, so the audit is anchored to the signature.
		a.Resume(resume.Seq-1, resume.Prev)
	}
	for {
		page, err := entriesPage(tx, site, after, pageSize)
		if err != nil {
			return nil, cr, err
		}
		for i := range page {
			a.Check(&page[i])
		}
		if len(page) < pageSize {
			break
		}
		after = page[len(page)-1].Seq
	}
	cr.ChainSummary = a.Finish()
	return a, cr, nil
}

func chainFault(site string, rank int, f *journal.Fault) AuditFault {
	return AuditFault{Kind: FaultChain, Site: site, Remote: rank > 0, Seq: f.Seq, EntryID: f.ID, Reason: f.Reason}
}

// checkHead compares the local journal head with the chain's last entry: a
// deletion at the end of the chain leaves every remaining link intact but
// the head behind.
func checkHead(tx *Tx, s journal.ChainSummary) (AuditFault, bool, error) {
	var seq int64
	var hash string
	err := tx.QueryRow("SELECT seq, hash FROM journal_head WHERE site = ?", s.Site).Scan(&seq, &hash)
	f := AuditFault{Kind: FaultHead, Site: s.Site, Table: "journal_head", EntityID: s.Site}
	switch {
	case relais.ErrorKind(mapErr(err)) == relais.KindNotFound:
		f.Seq = s.HeadSeq
		f.Reason = "the journal head of this site is missing"
		return f, true, nil
	case err != nil:
		return f, false, mapErr(err)
	case seq == s.HeadSeq && hash == s.HeadHash:
		return f, false, nil
	case seq > s.HeadSeq:
		f.Seq = seq
		f.Reason = fmt.Sprintf("the journal head records entry %d (hash %s) but the chain ends at entry %d: entries were deleted from its end",
			seq, hash, s.HeadSeq)
	case seq < s.HeadSeq:
		f.Seq = seq + 1
		f.Reason = fmt.Sprintf("the chain goes on to entry %d but the journal head records entry %d: entries were added outside Relais",
			s.HeadSeq, seq)
	default:
		f.Seq = seq
		f.Reason = fmt.Sprintf("the journal head records hash %s for this entry but its hash is %s", hash, s.HeadHash)
	}
	return f, true, nil
}

// checkEntities compares, for every entity the local chain describes, the
// after-image of its last entry with its row read back now. Entries that
// failed the chain check are skipped: their after-image is not the
// journal's any more, and the fault is already reported.
//
// When the audit started after entry after, only the entities whose last
// entry comes later are compared.
func checkEntities(tx *Tx, site string, a *journal.ChainAudit, after int64, rep *Report) error {
	for {
		page, err := lastEntriesPage(tx, site, after, pageSize)
		if err != nil {
			return err
		}
		for i := range page {
			e := &page[i]
			if a.Bad(e.Seq) {
				continue
			}
			if later, err := continuedElsewhere(tx, e); err != nil {
				return err
			} else if later {
				continue
			}
			if _, ok := entityLoaders[e.Entity]; !ok {
				rep.Unverifiable[e.Entity]++
				continue
			}
			rep.Entities++
			f, bad, err := compareEntity(tx, e.Entity, relais.ID(e.EntityID), e.After, "its last entry")
			if err != nil {
				return err
			}
			if bad {
				f.Site, f.Seq, f.EntryID, f.Action = e.Site, e.Seq, e.ID, e.Action
				rep.Faults = append(rep.Faults, f)
			}
		}
		if len(page) < pageSize {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// compareEntity reads entity/id back and compares it with want, the
// canonical JSON it should have ("null": it should not exist).
//
// basis names what want comes from, for the messages.
func compareEntity(tx *Tx, entity string, id relais.ID, want json.RawMessage, basis string) (AuditFault, bool, error) {
	f := AuditFault{Entity: entity, EntityID: string(id)}
	want, err := journal.Canonicalize(want)
	if err != nil {
		return f, false, err
	}
	gone := bytes.Equal(want, []byte("null"))
	v, _, err := tx.LoadEntity(entity, id)
	if err != nil {
		if relais.ErrorKind(err) == relais.KindNotFound {
			if gone {
				return f, false, nil
			}
			f.Kind = FaultDeleted
			f.Reason = fmt.Sprintf("%s %s was deleted outside Relais: %s records it as existing", entity, id, basis)
			return f, true, nil
		}
		// A row that cannot even be scanned was changed outside Relais
		// (e.g. text in a number column), unless the database itself failed.
		var one int
		if perr := tx.QueryRow("SELECT 1").Scan(&one); perr != nil {
			return f, false, err
		}
		f.Kind = FaultUnreadable
		f.Reason = fmt.Sprintf("%s %s cannot be read back (%v): it was changed outside Relais", entity, id, err)
		return f, true, nil
	}
	if gone {
		f.Kind = FaultReappeared
		f.Reason = fmt.Sprintf("%s %s exists although %s records it as removed", entity, id, basis)
		return f, true, nil
	}
	got, err := journal.Marshal(v)
	if err != nil {
		return f, false, err
	}
	if bytes.Equal(got, want) {
		return f, false, nil
	}
	if adds := tx.db.addedFields()[entity]; len(adds) > 0 {
		if want, err = acceptAddedFields(want, got, adds); err != nil {
			return f, false, err
		}
		if bytes.Equal(got, want) {
			return f, false, nil
		}
	}
	f.Kind = FaultChanged
	path, journaled, stored := firstDifference(want, got)
	f.Field = path
	if path == "" {
		f.Reason = fmt.Sprintf("%s %s was changed outside Relais", entity, id)
	} else {
		f.Reason = fmt.Sprintf("%s %s was changed outside Relais: field %s (%s in the journal, %s in the database)",
			entity, id, path, journaled, stored)
	}
	return f, true, nil
}

// genesisRows are the rows Open writes when it creates a database, before
// the chain starts (see initSite): no entry describes them until Relais
// changes them, so they are compared with what initSite writes instead.
func genesisRows(site string) []struct {
	entity string
	id     relais.ID
	image  any
} {
	return []struct {
		entity string
		id     relais.ID
		image  any
	}{
		{"site", relais.ID(site), relais.Site{ID: site, Name: site, Kind: "other"}},
	}
}

func checkGenesisRows(tx *Tx, rep *Report) error {
	for _, g := range genesisRows(rep.Site) {
		described, err := isDescribed(tx, []string{g.entity}, string(g.id))
		if err != nil || described {
			return err
		}
		want, err := journal.Marshal(g.image)
		if err != nil {
			return err
		}
		rep.Entities++
		f, bad, err := compareEntity(tx, g.entity, g.id, want, "the row made when the database was created")
		if err != nil {
			return err
		}
		if bad {
			f.Site, f.Table = rep.Site, entityLoaders[g.entity].table
			if f.Kind == FaultChanged {
				f.Reason += " (no journal entry describes it yet: it was compared with the row made when the database was created)"
			}
			rep.Faults = append(rep.Faults, f)
		}
	}
	return nil
}

func isDescribed(tx *Tx, entities []string, id string) (bool, error) {
	var one int
	q := "SELECT 1 FROM journal WHERE entity IN (" + placeholders(len(entities)) + ") AND entity_id = ? LIMIT 1"
	args := append(stringArgs(entities), id)
	err := tx.QueryRow(q, args...).Scan(&one)
	if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
		return false, nil
	}
	return err == nil, mapErr(err)
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// checkUndescribedRows finds the rows of journaled tables that no entry of
// any chain describes: they were inserted outside Relais.
func checkUndescribedRows(tx *Tx, rep *Report) error {
	byTable := map[string][]string{}
	for name, l := range entityLoaders {
		byTable[l.table] = append(byTable[l.table], name)
	}
	genesis := map[string]bool{}
	for _, g := range genesisRows(rep.Site) {
		genesis[entityLoaders[g.entity].table+"\x00"+string(g.id)] = true
	}
	for table := range byTable {
		rep.Tables = append(rep.Tables, table)
	}
	sort.Strings(rep.Tables)
	for _, table := range rep.Tables {
		if !identifier.MatchString(table) {
			return fmt.Errorf("sqlstore: entity table %q is not a plain table name", table)
		}
		entities := byTable[table]
		sort.Strings(entities)
		var n int64
		if err := tx.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			return mapErr(err)
		}
		rep.Rows += n
		q := "SELECT t.id FROM " + table + " t WHERE t.id > ? AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.entity IN (" +
			placeholders(len(entities)) + ") AND j.entity_id = t.id) ORDER BY t.id LIMIT " + strconv.Itoa(pageSize)
		after := ""
		for {
			ids, err := queryStrings(tx, q, append([]any{after}, stringArgs(entities)...)...)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if genesis[table+"\x00"+id] {
					continue
				}
				rep.Faults = append(rep.Faults, AuditFault{Kind: FaultInserted, Site: rep.Site, Table: table,
					Entity: strings.Join(entities, "/"), EntityID: id,
					Reason: "inserted outside Relais: no journal entry describes it"})
			}
			if len(ids) < pageSize {
				break
			}
			after = ids[len(ids)-1]
		}
	}
	return nil
}

func queryStrings(tx *Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func stringArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// entriesPage reads up to limit entries of site's chain after seq, in order.
func entriesPage(tx *Tx, site string, after int64, limit int) ([]journal.Entry, error) {
	return queryEntries(tx, "SELECT "+entryColumns+" FROM journal WHERE site = ? AND seq > ? ORDER BY seq LIMIT ?", site, after, limit)
}

// lastEntriesPage reads, in chain order after seq, the entries of site's
// chain that are the last to describe their entity.
func lastEntriesPage(tx *Tx, site string, after int64, limit int) ([]journal.Entry, error) {
	return queryEntries(tx, "SELECT "+entryColumns+` FROM journal j WHERE j.site = ? AND j.seq > ?
		AND NOT EXISTS (SELECT 1 FROM journal k WHERE k.entity = j.entity AND k.entity_id = j.entity_id AND k.site = j.site AND k.seq > j.seq)
		ORDER BY j.seq LIMIT ?`, site, after, limit)
}

func queryEntries(tx *Tx, q string, args ...any) ([]journal.Entry, error) {
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []journal.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		// An image that cannot be decompressed is read as its stored
		// bytes: the entry's hash check names it.
		if ie := (*imageError)(nil); err != nil && !errors.As(err, &ie) {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// firstDifference returns the JSON path of the first place (keys in sorted
// order) where documents a and b differ, with both values shortened for a
// message. The path is "" when the documents differ as a whole.
func firstDifference(a, b []byte) (path, va, vb string) {
	x, errA := decodeNumbers(a)
	y, errB := decodeNumbers(b)
	if errA != nil || errB != nil {
		return "", short(a), short(b)
	}
	p, u, v, _ := diffValue("", x, y)
	return p, shortValue(u), shortValue(v)
}

func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// absent marks a key missing on one side.
type absent struct{}

func diffValue(path string, a, b any) (string, any, any, bool) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return path, a, b, true
		}
		keys := make([]string, 0, len(av)+len(bv))
		for k := range av {
			keys = append(keys, k)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			x, inA := av[k]
			y, inB := bv[k]
			if !inA {
				return sub, absent{}, y, true
			}
			if !inB {
				return sub, x, absent{}, true
			}
			if p, u, v, d := diffValue(sub, x, y); d {
				return p, u, v, true
			}
		}
		return "", nil, nil, false
	case []any:
		bv, ok := b.([]any)
		if !ok {
			return path, a, b, true
		}
		for i := 0; i < len(av) || i < len(bv); i++ {
			sub := fmt.Sprintf("%s[%d]", path, i)
			if i >= len(av) {
				return sub, absent{}, bv[i], true
			}
			if i >= len(bv) {
				return sub, av[i], absent{}, true
			}
			if p, u, v, d := diffValue(sub, av[i], bv[i]); d {
				return p, u, v, true
			}
		}
		return "", nil, nil, false
	default:
		// Scalars: string, json.Number (compared as written), bool, nil.
		// Comparing with a map or slice is false, never a panic, since the
		// dynamic types differ.
		if a != b {
			return path, a, b, true
		}
		return "", nil, nil, false
	}
}

func shortValue(v any) string {
	if _, ok := v.(absent); ok {
		return "absent"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return short(b)
}

func short(b []byte) string {
	const max = 60
	s := string(b)
	if len([]rune(s)) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return s
}

// acceptAddedFields is the rule that keeps the audit true across schema
// changes. An after-image written before a migration added a field to its
// entity lacks that field, while the row read back now has it. The field's
// absence is accepted only when a migration declares the field added
// ("-- relais: adds ENTITY.FIELD = JSON", see migrate.go) and the row holds
// exactly the declared default: the value the migration gave every existing
// row. Any other value was set since without a journal entry, and is
// reported as changed. A field the after-image does hold is always
// compared. want is returned with the accepted fields filled in.
func acceptAddedFields(want, got []byte, adds []AddedField) ([]byte, error) {
	var w, g map[string]json.RawMessage
	if json.Unmarshal(want, &w) != nil || json.Unmarshal(got, &g) != nil || w == nil || g == nil {
		return want, nil // not objects: nothing a migration could add to
	}
	changed := false
	for _, a := range adds {
		if _, ok := w[a.Field]; ok {
			continue
		}
		v, ok := g[a.Field]
		if !ok {
			continue
		}
		cv, err := journal.Canonicalize(v)
		if err != nil {
			return want, err
		}
		if bytes.Equal(cv, a.Default) {
			w[a.Field] = v
			changed = true
		}
	}
	if !changed {
		return want, nil
	}
	b, err := json.Marshal(w)
	if err != nil {
		return want, err
	}
	return journal.Canonicalize(b)
}
