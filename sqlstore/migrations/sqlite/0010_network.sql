-- relais: reversible (it only creates tables and indexes: no existing row or column is changed)
-- The regional network (issue 8): shares of a patient's care with other
-- sites, the read-only copy of what other sites share with this one, links
-- between remote and local patients. See docs/network.md.

-- A patient's care shared with another site, with the information given to
-- the patient or the parents. Journaled (entity "network_share"); revoked,
-- never deleted: a new share after a revocation is a new row.
CREATE TABLE network_share (
    id               TEXT PRIMARY KEY,
    site             TEXT NOT NULL,
    patient_id       TEXT NOT NULL REFERENCES patient (id),
    to_site          TEXT NOT NULL,
    informed_by      TEXT NOT NULL,
    informed_at      TEXT NOT NULL,
    information_note TEXT NOT NULL DEFAULT '',
    recorded_by_id   TEXT NOT NULL,
    recorded_by_name TEXT NOT NULL,
    recorded_by_role TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    revoked_at       TEXT,
    revoked_by_id    TEXT NOT NULL DEFAULT '',
    revoked_by_name  TEXT NOT NULL DEFAULT '',
    revoked_by_role  TEXT NOT NULL DEFAULT '',
    revoke_reason    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX network_share_patient ON network_share (patient_id, created_at);
CREATE UNIQUE INDEX network_share_active ON network_share (patient_id, to_site) WHERE revoked_at IS NULL;

-- Journal entries received from other sites, as they came: never applied to
-- local tables. Idempotent by entry id.
CREATE TABLE remote_event (
    site        TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    entry_id    TEXT NOT NULL UNIQUE,
    time        TEXT NOT NULL,
    username    TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    prev        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    summary     TEXT NOT NULL, -- the few fields the timeline shows (relais.SummarizeEntry)
    after       TEXT NOT NULL, -- last: reading the columns before it never walks its overflow pages
    PRIMARY KEY (site, seq)
);
CREATE INDEX remote_event_patient ON remote_event (site, patient_id, seq);
CREATE INDEX remote_event_entity ON remote_event (site, entity, entity_id, seq);

-- The identity of each remote patient as last received, for matching.
CREATE TABLE remote_patient (
    site            TEXT NOT NULL,
    patient_id      TEXT NOT NULL,
    ins_matricule   TEXT NOT NULL,
    ins_oid         TEXT NOT NULL,
    identity_status TEXT NOT NULL,
    birth_name      TEXT NOT NULL,
    first_name      TEXT NOT NULL,
    birth_date      TEXT NOT NULL,
    sex             TEXT NOT NULL,
    image           TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    received_at     TEXT NOT NULL,
    PRIMARY KEY (site, patient_id)
);
CREATE INDEX remote_patient_ins ON remote_patient (ins_matricule);

-- Which local patient a remote patient is. Journaled (entity
-- "network_link"): a pharmacist's decision, or Relais's on a qualified INS.
CREATE TABLE network_link (
    id                TEXT PRIMARY KEY,
    site              TEXT NOT NULL,
    remote_site       TEXT NOT NULL,
    remote_patient_id TEXT NOT NULL,
    local_patient_id  TEXT NOT NULL REFERENCES patient (id),
    status            TEXT NOT NULL CHECK (status IN ('auto', 'proposed', 'accepted', 'rejected')),
    evidence          TEXT NOT NULL,
    decided_by_id     TEXT NOT NULL DEFAULT '',
    decided_by_name   TEXT NOT NULL DEFAULT '',
    decided_by_role   TEXT NOT NULL DEFAULT '',
    decided_at        TEXT,
    decision_note     TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (remote_site, remote_patient_id, local_patient_id)
);
CREATE INDEX network_link_local ON network_link (local_patient_id);

-- What this site knows of each other site's feed (the age of its data).
CREATE TABLE network_peer (
    site        TEXT PRIMARY KEY,
    last_seq    INTEGER NOT NULL DEFAULT 0,
    received_at TEXT,
    events      INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT ''
);

-- The publisher's durable cursor over the local journal: every entry up to
-- seq was published (and acknowledged) to the sites it concerns.
CREATE TABLE network_cursor (
    name       TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

-- Reads of other sites' data, waiting to be sent to the owning site.
CREATE TABLE network_read_notice (
    id           TEXT PRIMARY KEY,
    owner_site   TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX network_read_notice_pending ON network_read_notice (published_at, created_at);
