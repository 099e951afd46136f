package sqlstore

import (
	"context"
	"database/sql"

	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// Crisis mode. A crisis node is a copy of its site (a standby's database or
// a restored snapshot) that a named pharmacist declares writable when the
// site's Relais is gone. It then acts as its site — the same stock, leftover
// vials, register, patients and pharmacy, so every page and rule works
// unchanged — but records its work on a chain of its own,
// "<site>-crisis-<date>", so that its entries never collide with the
// site's and can be replayed there afterwards (reintegrate.go).
//
// Register numbers: a crisis node never takes a number from the site's
// counter (the site may have issued numbers the copy never saw). It uses
// the numbers reserved in advance at the site (`relais crisis reserve`,
// ReserveRegisterBlock), which the copy received: each worksheet issued in
// crisis turns the lowest reserved number into the preparation's entry.

// ChainSite is the chain this database appends to: its site's, or on a
// crisis node the crisis chain.
func (db *DB) ChainSite() string {
	if db.Chain != "" {
		return db.Chain
	}
	return db.Site
}

// InCrisis reports whether this database is a crisis node.
func (db *DB) InCrisis() bool { return db.Chain != "" && db.Chain != db.Site }

// continuedElsewhere reports whether entry e of the site's chain is followed,
// for its entity, by an entry of this database's crisis chain: the crisis
// chain then describes the entity's current state.
func continuedElsewhere(tx *Tx, e *journal.Entry) (bool, error) {
	c := tx.db.ChainSite()
	if c == tx.db.Site || e.Site == c {
		return false, nil
	}
	var one int
	err := tx.QueryRow("SELECT 1 FROM journal WHERE site = ? AND entity = ? AND entity_id = ? LIMIT 1", c, e.Entity, e.EntityID).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, mapErr(err)
}

// Crisis is a crisis declared on a node.
type Crisis struct {
	ID           relais.ID `json:"id"`
	Site         string    `json:"site"` // the crisis chain
	SourceSite   string    `json:"source_site"`
	SourceSeq    int64     `json:"source_seq"`
	SourceHash   string    `json:"source_hash"`
	DataTime     time.Time `json:"data_time"`
	DeclaredBy   string    `json:"declared_by"`
	DeclaredByID relais.ID `json:"declared_by_id"`
	Reason       string    `json:"reason"`
	DeclaredAt   time.Time `json:"declared_at"`
	Reserved     []string  `json:"reserved"` // the reserved register numbers the crisis may use
	Status       string    `json:"status"`   // active, ended
	EndedAt      time.Time `json:"ended_at,omitzero"`
	EndedBy      string    `json:"ended_by,omitempty"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// LogEntry is one entry of the crisis logbook (journal de bord).
type LogEntry struct {
	ID         relais.ID `json:"id"`
	CrisisID   relais.ID `json:"crisis_id"`
	Site       string    `json:"site"`
	At         time.Time `json:"at"`
	Role       string    `json:"role"` // pilot, editor, coordinator, pharmacist, other
	Kind       string    `json:"kind"` // declaration, entry, decision, communication, end
	Text       string    `json:"text"`
	AuthorID   relais.ID `json:"author_id"`
	AuthorName string    `json:"author_name"`
}

// Crisis roles (seed 004) and logbook kinds.
var (
	CrisisRoles = []string{"pilot", "editor", "coordinator", "pharmacist", "other"}
	LogKinds    = []string{"entry", "decision", "communication"}
)

func init() {
	registerEntity("crisis", "crisis", func(tx *Tx, id relais.ID) (any, error) { return crisisByID(tx, id) })
	registerEntity("crisis_log", "crisis_log", func(tx *Tx, id relais.ID) (any, error) { return logEntryByID(tx, id) })
	registerApplier("crisis", applyCrisis)
	registerApplier("crisis_log", applyLogEntry)
}

const crisisCols = `id, site, source_site, source_seq, source_hash, data_time, declared_by, declared_by_id, reason, declared_at,
	reserved, status, ended_at, ended_by, updated_at`

func scanCrisis(sc interface{ Scan(...any) error }) (Crisis, error) {
	var c Crisis
	var reserved string
	err := sc.Scan(&c.ID, &c.Site, &c.SourceSite, &c.SourceSeq, &c.SourceHash, ScanTime(&c.DataTime), &c.DeclaredBy, &c.DeclaredByID,
		&c.Reason, ScanTime(&c.DeclaredAt), &reserved, &c.Status, ScanTime(&c.EndedAt), &c.EndedBy, ScanTime(&c.UpdatedAt))
	if err != nil {
		return c, err
	}
	c.Reserved = []string{}
	if err := fromJSONText(reserved, &c.Reserved); err != nil {
		return c, relais.E(relais.KindIntegrity, "the reserved numbers of crisis "+string(c.ID)+" cannot be read", err)
	}
	return c, nil
}

func crisisByID(tx *Tx, id relais.ID) (Crisis, error) {
	c, err := scanCrisis(tx.QueryRow("SELECT "+crisisCols+" FROM crisis WHERE id = ?", id))
	if err != nil {
		return c, relais.E("crisis.get", "no such crisis", mapErr(err))
	}
	return c, nil
}

func applyCrisis(tx *Tx, id relais.ID, after []byte) error {
	var c Crisis
	if err := decodeImage("crisis", id, after, &c); err != nil {
		return err
	}
	if err := checkImageID("crisis", id, c.ID); err != nil {
		return err
	}
	if c.Reserved == nil {
		c.Reserved = []string{}
	}
	return upsert(tx, "crisis", columns(crisisCols), []any{c.ID, c.Site, c.SourceSite, c.SourceSeq, c.SourceHash, T(c.DataTime),
		c.DeclaredBy, c.DeclaredByID, c.Reason, T(c.DeclaredAt), mustJSON(c.Reserved), c.Status, NT(c.EndedAt), c.EndedBy, T(c.UpdatedAt)})
}

const logCols = "id, crisis_id, site, at, role, kind, text, author_id, author_name"

func scanLogEntry(sc interface{ Scan(...any) error }) (LogEntry, error) {
	var l LogEntry
	err := sc.Scan(&l.ID, &l.CrisisID, &l.Site, ScanTime(&l.At), &l.Role, &l.Kind, &l.Text, &l.AuthorID, &l.AuthorName)
	return l, err
}

func logEntryByID(tx *Tx, id relais.ID) (LogEntry, error) {
	l, err := scanLogEntry(tx.QueryRow("SELECT "+logCols+" FROM crisis_log WHERE id = ?", id))
	if err != nil {
		return l, relais.E("crisis.log.get", "no such logbook entry", mapErr(err))
	}
	return l, nil
}

func applyLogEntry(tx *Tx, id relais.ID, after []byte) error {
	var l LogEntry
	if err := decodeImage("crisis_log", id, after, &l); err != nil {
		return err
	}
	if err := checkImageID("crisis_log", id, l.ID); err != nil {
		return err
	}
	return upsert(tx, "crisis_log", columns(logCols), []any{l.ID, l.CrisisID, l.Site, T(l.At), l.Role, l.Kind, l.Text, l.AuthorID, l.AuthorName})
}

// CrisisDeclaration is what a pharmacist says to start a crisis.
type CrisisDeclaration struct {
	Pharmacist string    // the declaring pharmacist's username on this node
	Reason     string    // e.g. "cyberattaque: serveur Relais chiffré"
	DataTime   time.Time // how recent the copy is (standby sync, snapshot time)
}

// StartCrisis turns this database (a copy of its site) into a crisis node:
// a chain of its own, the declaration journaled on it and written in the
// logbook. It refuses a database already in crisis, a pharmacist who is not
// one, and a declaration without a reason.
func (db *DB) StartCrisis(ctx context.Context, d CrisisDeclaration) (Crisis, error) {
	const op = "crisis.start"
	var c Crisis
	d.Reason = strings.TrimSpace(d.Reason)
	var errs []error
	if d.Reason == "" {
		errs = append(errs, relais.Invalid(op, "reason", "say why the crisis is declared (e.g. cyberattaque, échec de mise à jour)"))
	}
	if strings.TrimSpace(d.Pharmacist) == "" {
		errs = append(errs, relais.Invalid(op, "pharmacist", "name the pharmacist who declares the crisis (their username)"))
	}
	if err := relais.Errors(op, errs); err != nil {
		return c, err
	}
	if db.InCrisis() {
		return c, relais.E(op, relais.KindConflict, fmt.Sprintf("this node is already in crisis (chain %s)", db.Chain))
	}
	var who relais.User
	if err := db.Read(ctx, func(tx *Tx) error {
		u, err := scanUser(tx.QueryRow("SELECT "+userColumns+" FROM app_user WHERE username = ?", strings.ToLower(strings.TrimSpace(d.Pharmacist))))
		if err != nil {
			return relais.E(op, relais.Field("pharmacist"), fmt.Sprintf("no account %q on this copy", d.Pharmacist), mapErr(err))
		}
		who = u
		return nil
	}); err != nil {
		return c, err
	}
	if who.Role != relais.RolePharmacist || who.Disabled {
		return c, relais.E(op, relais.KindForbidden, relais.Field("pharmacist"), fmt.Sprintf(
			"%s is %s%s: a crisis is declared by an active pharmacist", who.Username, who.Role, map[bool]string{true: " (disabled)"}[who.Disabled]))
	}
	head, err := db.Head(ctx, db.Site)
	if err != nil {
		return c, err
	}
	now := relais.Now()
	chain := db.Site + "-crisis-" + now.In(relais.DisplayZone).Format("20060102-150405")
	// The chain exists before anything is journaled on it.
	if err := db.rawWrite(ctx, op, func(tx *Tx) error {
		if _, err := tx.Exec("INSERT INTO journal_head (site, seq, hash) VALUES (?, 0, ?)", chain, journal.GenesisHash); err != nil {
			return relais.E(op, err)
		}
		if _, err := tx.Exec("INSERT INTO meta (key, value) VALUES ('chain', ?)", chain); err != nil {
			return relais.E(op, relais.KindConflict, "this node is already in crisis", err)
		}
		return nil
	}); err != nil {
		return c, err
	}
	db.Chain = chain
	ctx = relais.WithActor(ctx, who.Actor())
	err = db.Write(ctx, op, func(tx *Tx) error {
		site := relais.Site{ID: chain, Name: "Crise " + db.Site, Kind: "other"}
		if _, err := tx.Exec("INSERT INTO site (id, name, kind, public_key, created_at) VALUES (?, ?, ?, '', ?)", site.ID, site.Name, site.Kind, T(tx.Now())); err != nil {
			return relais.E(op, err)
		}
		if err := tx.Journal("site.save", "site", relais.ID(chain), nil, site); err != nil {
			return err
		}
		reserved, err := queryStrings(tx, "SELECT number FROM register_entry WHERE site = ? AND kind = 'reserved' ORDER BY year, seq", db.Site)
		if err != nil {
			return relais.E(op, err)
		}
		if reserved == nil {
			reserved = []string{}
		}
		c = Crisis{ID: relais.NewID(), Site: chain, SourceSite: db.Site, SourceSeq: head.Seq, SourceHash: head.Hash, DataTime: d.DataTime.UTC().Truncate(time.Microsecond),
			DeclaredBy: tx.Actor().DisplayName(), DeclaredByID: who.ID, Reason: d.Reason, DeclaredAt: tx.Now(), Reserved: reserved,
			Status: "active", UpdatedAt: tx.Now()}
		if c.DataTime.IsZero() {
			c.DataTime = head.Time
		}
		if err := applyCrisis(tx, c.ID, []byte(mustJSON(c))); err != nil {
			return relais.E(op, err)
		}
		if c, err = crisisByID(tx, c.ID); err != nil {
			return err
		}
		if err := tx.Journal(op, "crisis", c.ID, nil, c); err != nil {
			return err
		}
		text := fmt.Sprintf("Crise déclarée par %s : %s. Données au %s (entrée %d du journal de %s). %d numéros d'ordonnancier réservés. / Crisis declared: %s.",
			c.DeclaredBy, c.Reason, c.DataTime.In(relais.DisplayZone).Format("02/01/2006 15:04:05"), c.SourceSeq, c.SourceSite, len(reserved), c.Reason)
		_, err = addLog(tx, c.ID, "pharmacist", "declaration", text)
		return err
	})
	if err != nil {
		// Leave no half-declared crisis: the chain goes with it.
		db.rawWrite(context.WithoutCancel(ctx), op, func(tx *Tx) error {
			tx.Exec("DELETE FROM meta WHERE key = 'chain'")
			tx.Exec("DELETE FROM journal_head WHERE site = ? AND seq = 0", chain)
			return nil
		})
		db.Chain = ""
		return c, err
	}
	return c, nil
}

func addLog(tx *Tx, crisisID relais.ID, role, kind, text string) (LogEntry, error) {
	a := tx.Actor()
	l := LogEntry{ID: relais.NewID(), CrisisID: crisisID, Site: tx.db.ChainSite(), At: tx.Now(), Role: role, Kind: kind,
		Text: text, AuthorID: a.UserID, AuthorName: a.DisplayName()}
	if err := applyLogEntry(tx, l.ID, []byte(mustJSON(l))); err != nil {
		return l, err
	}
	got, err := logEntryByID(tx, l.ID)
	if err != nil {
		return got, err
	}
	return got, tx.Journal("crisis.log", "crisis_log", l.ID, nil, got)
}

// ActiveCrisis returns the crisis of this node (KindNotFound when none).
func (db *DB) ActiveCrisis(ctx context.Context) (Crisis, error) {
	var c Crisis
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		c, err = scanCrisis(tx.QueryRow("SELECT "+crisisCols+" FROM crisis WHERE site = ? ORDER BY declared_at DESC LIMIT 1", db.ChainSite()))
		if err != nil {
			return relais.E("crisis.get", relais.KindNotFound, "this node is not in crisis", mapErr(err))
		}
		return nil
	})
	return c, err
}

// WriteLog writes an entry in the crisis logbook, as the actor in ctx.
func (db *DB) WriteLog(ctx context.Context, role, kind, text string) (LogEntry, error) {
	const op = "crisis.log"
	role, kind, text = strings.TrimSpace(role), strings.TrimSpace(kind), strings.TrimSpace(text)
	if kind == "" {
		kind = "entry"
	}
	var errs []error
	if !slices.Contains(CrisisRoles, role) {
		errs = append(errs, relais.Invalid(op, "role", "the crisis role is one of %s (seed 004: pilot, editor, coordinator)", strings.Join(CrisisRoles, ", ")))
	}
	if !slices.Contains(LogKinds, kind) {
		errs = append(errs, relais.Invalid(op, "kind", "an entry is one of %s", strings.Join(LogKinds, ", ")))
	}
	if text == "" || len([]rune(text)) > 4000 {
		errs = append(errs, relais.Invalid(op, "text", "write the entry (at most 4000 characters)"))
	}
	if err := relais.Errors(op, errs); err != nil {
		return LogEntry{}, err
	}
	c, err := db.ActiveCrisis(ctx)
	if err != nil {
		return LogEntry{}, err
	}
	var l LogEntry
	err = db.Write(ctx, op, func(tx *Tx) error {
		var err error
		l, err = addLog(tx, c.ID, role, kind, text)
		return err
	})
	return l, err
}

// Logbook lists a crisis's logbook, oldest first.
func (db *DB) Logbook(ctx context.Context, crisisID relais.ID) ([]LogEntry, error) {
	out := []LogEntry{}
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query("SELECT "+logCols+" FROM crisis_log WHERE crisis_id = ? ORDER BY at, id", crisisID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			l, err := scanLogEntry(rows)
			if err != nil {
				return err
			}
			out = append(out, l)
		}
		return rows.Err()
	})
	return out, err
}

// crisisRegisterNumber gives a preparation issued on a crisis node the
// lowest reserved number of its site's register (ok false off crisis). The
// reserved entry becomes the preparation's entry: same id, same number.
func crisisRegisterNumber(tx *Tx, p relais.Preparation) (relais.RegisterEntry, bool, error) {
	const op = "register.issue"
	if !tx.db.InCrisis() {
		return relais.RegisterEntry{}, false, nil
	}
	var id relais.ID
	err := tx.QueryRow("SELECT id FROM register_entry WHERE site = ? AND kind = 'reserved' ORDER BY year, seq LIMIT 1", tx.Site()).Scan(&id)
	if err == sql.ErrNoRows {
		return relais.RegisterEntry{}, true, relais.E(op, relais.KindConflict,
			"no reserved register number is left on this crisis node: record the preparation on paper with a number from the paper register, and reserve a larger block next time (relais crisis reserve)")
	}
	if err != nil {
		return relais.RegisterEntry{}, true, relais.E(op, mapErr(err))
	}
	before, err := registerEntryByID(tx, id)
	if err != nil {
		return before, true, err
	}
	now := tx.Now()
	if _, err := tx.Exec(`UPDATE register_entry SET kind = 'preparation', preparation_id = ?, patient_id = ?, inn = ?, dose = ?, unit = ?,
		status = 'in_progress', issued_at = ?, issued_by = ?, updated_at = ? WHERE id = ? AND kind = 'reserved'`,
		p.ID, p.PatientID, p.INN, p.Dose, p.Unit, T(now), tx.Actor().DisplayName(), T(now), id); err != nil {
		return before, true, relais.E(op, err)
	}
	after, err := registerEntryByID(tx, id)
	if err != nil {
		return after, true, err
	}
	return after, true, tx.Journal(op, "register_entry", id, before, after)
}
