-- relais: reversible (it only creates tables, indexes and triggers: no existing row or column is changed)
-- Business continuity: standby nodes, crisis mode, reintegration.
-- See docs/continuity.md.

-- What a standby node knows of the site it follows: the source's chain head
-- it has applied is in journal_head (the standby keeps the source's entries
-- under the source's site and seq); this row adds when it last heard that
-- nothing newer existed, which is the age of its data.
CREATE TABLE follow_state (
    site         TEXT PRIMARY KEY, -- the followed site
    source_url   TEXT NOT NULL,
    applied_seq  INTEGER NOT NULL,
    source_seq   INTEGER NOT NULL, -- the source's head at the last poll
    synced_at    TEXT,             -- last time applied_seq = source_seq (data age counts from here)
    polled_at    TEXT,
    last_error   TEXT NOT NULL DEFAULT ''
);

-- A crisis declared on this node (a crisis node has one at a time). Its
-- declaration and end are journaled on the crisis chain (entity "crisis").
CREATE TABLE crisis (
    id              TEXT PRIMARY KEY,
    site            TEXT NOT NULL,     -- the crisis chain, e.g. chu-aquitaine-crisis
    source_site     TEXT NOT NULL,     -- the site whose work it takes over
    source_seq      INTEGER NOT NULL,  -- the source chain's last entry in the copy
    source_hash     TEXT NOT NULL,
    data_time       TEXT NOT NULL,     -- how recent the copy was at the declaration
    declared_by     TEXT NOT NULL,
    declared_by_id  TEXT NOT NULL,
    reason          TEXT NOT NULL,
    declared_at     TEXT NOT NULL,
    reserved        TEXT NOT NULL,     -- JSON list of the reserved register numbers the crisis may use
    status          TEXT NOT NULL CHECK (status IN ('active', 'ended')),
    ended_at        TEXT,
    ended_by        TEXT NOT NULL DEFAULT '',
    updated_at      TEXT NOT NULL
);

-- The crisis logbook (journal de bord, seed 004): timestamped entries by
-- crisis role. Journaled (entity "crisis_log"), so it comes back with the
-- rest at reintegration.
CREATE TABLE crisis_log (
    id          TEXT PRIMARY KEY,
    crisis_id   TEXT NOT NULL,
    site        TEXT NOT NULL,
    at          TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('pilot', 'editor', 'coordinator', 'pharmacist', 'other')),
    kind        TEXT NOT NULL CHECK (kind IN ('declaration', 'entry', 'decision', 'communication', 'end')),
    text        TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    author_name TEXT NOT NULL
);
CREATE INDEX crisis_log_crisis ON crisis_log (crisis_id, at);

-- Reintegration: each crisis entry is replayed once, by its id.
CREATE TABLE replayed_entry (
    entry_id    TEXT PRIMARY KEY,
    source_site TEXT NOT NULL,
    source_seq  INTEGER NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('replayed', 'queued', 'unchanged')),
    local_seq   INTEGER NOT NULL DEFAULT 0, -- the entry that replayed it on this site's chain
    at          TEXT NOT NULL
);
CREATE INDEX replayed_entry_source ON replayed_entry (source_site, source_seq);

-- Conflicts found at reintegration: the same entity changed on both sides.
-- Never resolved automatically: a pharmacist keeps the main site's version
-- or takes the crisis node's. Journaled (entity "reintegration_conflict").
CREATE TABLE reintegration_conflict (
    id            TEXT PRIMARY KEY,
    site          TEXT NOT NULL,
    entry_id      TEXT NOT NULL UNIQUE,
    source_site   TEXT NOT NULL,
    source_seq    INTEGER NOT NULL,
    action        TEXT NOT NULL,
    entity        TEXT NOT NULL,
    entity_id     TEXT NOT NULL,
    crisis_before TEXT NOT NULL,
    crisis_after  TEXT NOT NULL,
    main_current  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('open', 'kept_main', 'took_crisis')),
    created_at    TEXT NOT NULL,
    resolved_at   TEXT,
    resolved_by   TEXT NOT NULL DEFAULT '',
    note          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX reintegration_conflict_status ON reintegration_conflict (status, created_at);
