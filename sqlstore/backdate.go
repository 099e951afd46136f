package sqlstore

import (
	"context"
	"time"

	"github.com/relais-onco/relais"
)

type asOfKey struct{}

// AsOf returns a context whose writes are dated t, on a database opened
// with Options.Backdate (a history generator); elsewhere it has no effect.
// A generator must date its writes in nondecreasing order, as the clock
// would: the journal is a chain in time.
func AsOf(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, asOfKey{}, t.UTC().Truncate(time.Microsecond))
}

// writeTime is the time a write is dated: the clock, or AsOf's time on a
// database opened to be backdated.
func (db *DB) writeTime(ctx context.Context) time.Time {
	if db.backdate {
		if t, ok := ctx.Value(asOfKey{}).(time.Time); ok {
			return t
		}
	}
	return relais.Now()
}
