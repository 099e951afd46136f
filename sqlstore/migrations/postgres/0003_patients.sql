-- relais: reversible (it only creates tables, indexes and triggers: no existing row or column is changed)
-- Patients: identity, INS, measurements, allergies, sharing, notes.
-- Nothing here is ever deleted: merges, identifier changes and voiding are
-- transitions (columns set, rows added), recorded in the journal.

CREATE TABLE patient (
    id              TEXT PRIMARY KEY,
    site            TEXT NOT NULL REFERENCES site (id),
    ipp             TEXT NOT NULL,
    ins_matricule   TEXT NOT NULL DEFAULT '',
    ins_oid         TEXT NOT NULL DEFAULT '',
    identity_status TEXT NOT NULL CHECK (identity_status IN ('provisional', 'recovered', 'validated', 'qualified')),
    birth_name      TEXT NOT NULL,
    used_name       TEXT NOT NULL DEFAULT '',
    first_names     TEXT NOT NULL,               -- JSON array of strings, usual first name first
    birth_date      DATE NOT NULL,
    sex             TEXT NOT NULL CHECK (sex IN ('M', 'F', 'U')),
    birthplace_code TEXT NOT NULL DEFAULT '',
    -- The name as shown (used name, else birth name; usual first name),
    -- normalized (relais.NormalizeName): the order of search results, the
    -- same on both engines.
    sort_name       TEXT COLLATE "C" NOT NULL,
    referring_site  TEXT REFERENCES site (id),
    status          TEXT NOT NULL CHECK (status IN ('active', 'merged')),
    merged_into     TEXT REFERENCES patient (id),
    merged_at       TIMESTAMPTZ,
    merge_reason    TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (site, ipp),
    CHECK ((status = 'merged') = (merged_into IS NOT NULL))
);
CREATE INDEX patient_birth_date ON patient (birth_date);
CREATE INDEX patient_sort_name ON patient (sort_name);
CREATE INDEX patient_merged_into ON patient (merged_into);
-- One active record per INS at a site: a second one is a duplicate to merge.
CREATE UNIQUE INDEX patient_ins ON patient (site, ins_matricule, ins_oid) WHERE ins_matricule <> '' AND status = 'active';

-- Search tokens: the normalized words of the patient's names (accents
-- folded, lower case, hyphens and apostrophes as spaces) and each multi-word
-- name as one word. Derived from the names on every write; searched by prefix
-- through the primary key.
CREATE TABLE patient_search (
    token      TEXT COLLATE "C" NOT NULL,
    patient_id TEXT NOT NULL REFERENCES patient (id),
    PRIMARY KEY (token, patient_id)
);
CREATE INDEX patient_search_patient ON patient_search (patient_id);

-- Local ids a patient no longer carries (HL7 A47).
CREATE TABLE patient_former_ipp (
    patient_id TEXT NOT NULL REFERENCES patient (id),
    ipp        TEXT NOT NULL,
    until      TIMESTAMPTZ NOT NULL,
    reason     TEXT NOT NULL,
    by_user_id TEXT NOT NULL,
    by_name    TEXT NOT NULL,
    by_role    TEXT NOT NULL,
    PRIMARY KEY (patient_id, ipp, until)
);
CREATE INDEX patient_former_ipp_ipp ON patient_former_ipp (ipp);

CREATE TABLE allergy (
    id                TEXT PRIMARY KEY,
    patient_id        TEXT NOT NULL REFERENCES patient (id),
    substance         TEXT NOT NULL,
    reaction          TEXT NOT NULL DEFAULT '',
    severity          TEXT NOT NULL CHECK (severity IN ('mild', 'moderate', 'severe', 'unknown')),
    recorded_by_id    TEXT NOT NULL,
    recorded_by_name  TEXT NOT NULL,
    recorded_by_role  TEXT NOT NULL,
    recorded_at       TIMESTAMPTZ NOT NULL,
    voided_by_id      TEXT,
    voided_by_name    TEXT,
    voided_by_role    TEXT,
    voided_at         TIMESTAMPTZ,
    void_reason       TEXT
);
CREATE INDEX allergy_patient ON allergy (patient_id, recorded_at);

CREATE TABLE patient_sharing (
    patient_id           TEXT NOT NULL REFERENCES patient (id),
    site                 TEXT NOT NULL REFERENCES site (id),
    since                TIMESTAMPTZ NOT NULL,
    information_given_at TIMESTAMPTZ NOT NULL,
    information_given_by TEXT NOT NULL,
    recorded_by_id       TEXT NOT NULL,
    recorded_by_name     TEXT NOT NULL,
    recorded_by_role     TEXT NOT NULL,
    PRIMARY KEY (patient_id, site)
);

CREATE TABLE measurement (
    id               TEXT PRIMARY KEY,
    site             TEXT NOT NULL REFERENCES site (id),
    patient_id       TEXT NOT NULL REFERENCES patient (id),
    kind             TEXT NOT NULL,
    value            DOUBLE PRECISION NOT NULL,
    unit             TEXT NOT NULL,
    measured_at      TIMESTAMPTZ NOT NULL,
    recorded_by_id   TEXT NOT NULL,
    recorded_by_name TEXT NOT NULL,
    recorded_by_role TEXT NOT NULL,
    recorded_at      TIMESTAMPTZ NOT NULL,
    source           TEXT NOT NULL CHECK (source IN ('manual', 'lab', 'hl7')),
    voided_by_id     TEXT,
    voided_by_name   TEXT,
    voided_by_role   TEXT,
    voided_at        TIMESTAMPTZ,
    void_reason      TEXT
);
CREATE INDEX measurement_patient ON measurement (patient_id, kind, measured_at);

CREATE TABLE note (
    id          TEXT PRIMARY KEY,
    site        TEXT NOT NULL REFERENCES site (id),
    target_kind TEXT NOT NULL CHECK (target_kind IN ('patient', 'prescription', 'preparation')),
    target_id   TEXT NOT NULL,
    patient_id  TEXT NOT NULL REFERENCES patient (id),
    text        TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    author_name TEXT NOT NULL,
    author_role TEXT NOT NULL,
    written_at  TIMESTAMPTZ NOT NULL,
    corrects    TEXT REFERENCES note (id),
    shareable   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX note_patient ON note (patient_id, written_at);
-- A note is corrected at most once: the next correction corrects the correction.
CREATE UNIQUE INDEX note_corrects ON note (corrects) WHERE corrects IS NOT NULL;
