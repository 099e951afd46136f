-- relais: reversible (it only creates tables, indexes and triggers: no existing row or column is changed)
-- Foundation: the local site, sites of the network, accounts, and the journal.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE site (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('chu', 'chg', 'other')),
    public_key TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE app_user (
    id            TEXT PRIMARY KEY,
    site          TEXT NOT NULL REFERENCES site (id),
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE journal (
    site      TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    id        TEXT   NOT NULL UNIQUE,
    time      TIMESTAMPTZ NOT NULL,
    user_id   TEXT   NOT NULL,
    username  TEXT   NOT NULL,
    role      TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    entity    TEXT   NOT NULL,
    entity_id TEXT   NOT NULL,
    before    TEXT   NOT NULL,
    after     TEXT   NOT NULL,
    prev      TEXT   NOT NULL,
    hash      TEXT   NOT NULL,
    PRIMARY KEY (site, seq)
);
CREATE INDEX journal_entity ON journal (entity, entity_id, site, seq);

CREATE TABLE journal_head (
    site TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT   NOT NULL
);
