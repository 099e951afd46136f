package relais

import "time"

// Now returns the current time in UTC, truncated to the microsecond: the
// finest precision both SQLite (text) and PostgreSQL (timestamptz) keep, so
// a time read back from either engine equals the one written, and the
// journal's after-images match the rows they describe.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Date is a calendar date without time zone (a birth date, an administration
// day), written YYYY-MM-DD.
type Date string

// ParseDate checks a YYYY-MM-DD date.
func ParseDate(field, s string) (Date, error) {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", Invalid("date.parse", field, "%q is not a date: write it as YYYY-MM-DD, e.g. 2019-03-14", truncate(s, 40))
	}
	return Date(s), nil
}

// Time returns the date at midnight UTC.
func (d Date) Time() time.Time {
	t, _ := time.Parse(time.DateOnly, string(d))
	return t
}

// AddDays returns the date n days later.
func (d Date) AddDays(n int) Date {
	return Date(d.Time().AddDate(0, 0, n).Format(time.DateOnly))
}

// DisplayZone is the zone times are shown in (stored times are UTC).
var DisplayZone = mustZone("Europe/Paris")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}
