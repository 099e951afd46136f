-- relais: reversible (it only creates tables and indexes: no existing row or column is changed)
-- Hoods: the pharmacy's isolators and biological safety cabinets, and the
-- hood each compounded preparation is made in (production_hood.go). Both
-- are journaled (entities "hood" and "hood_assignment").

CREATE TABLE hood (
    id         TEXT PRIMARY KEY,
    site       TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('isolator', 'cabinet')),
    active     INTEGER NOT NULL DEFAULT 1,
    comment    TEXT NOT NULL DEFAULT '',
    revision   INTEGER NOT NULL CHECK (revision > 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (site, name)
);

-- One row per assigned preparation; its id is the preparation's.
CREATE TABLE hood_assignment (
    id         TEXT PRIMARY KEY REFERENCES preparation (id),
    hood_id    TEXT NOT NULL REFERENCES hood (id),
    slot       TEXT,             -- planned start, NULL when not planned
    reason     TEXT NOT NULL DEFAULT '',
    by_name    TEXT NOT NULL,
    by_id      TEXT NOT NULL,
    site       TEXT NOT NULL,
    revision   INTEGER NOT NULL CHECK (revision > 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX hood_assignment_hood ON hood_assignment (hood_id);
