-- relais: reversible (it only creates tables, indexes and triggers: no existing row or column is changed)
-- Foundation: the local site, sites of the network, accounts, and the journal.
-- Times are TEXT in UTC, 2006-01-02T15:04:05.000000Z (sortable); booleans are 0/1.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE site (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('chu', 'chg', 'other')),
    public_key TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

CREATE TABLE app_user (
    id            TEXT PRIMARY KEY,
    site          TEXT NOT NULL REFERENCES site (id),
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

-- The journal: one hash chain per site. Rows of other sites' chains arrive by
-- replication (network) and keep their own site and sequence.
CREATE TABLE journal (
    site      TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    id        TEXT    NOT NULL UNIQUE,
    time      TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    username  TEXT    NOT NULL,
    role      TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    entity    TEXT    NOT NULL,
    entity_id TEXT    NOT NULL,
    before    TEXT    NOT NULL,
    after     TEXT    NOT NULL,
    prev      TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    PRIMARY KEY (site, seq)
);
CREATE INDEX journal_entity ON journal (entity, entity_id, site, seq);

-- The head of each chain, locked by every writing transaction so that entries
-- are appended one at a time, in commit order.
CREATE TABLE journal_head (
    site TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
