-- relais: reversible (it only creates tables, indexes and triggers: no existing row or column is changed)
-- Treatments, cycle prescriptions and their lines. Days of administration,
-- checks and the measurements used are small documents always read with their
-- prescription: they are JSON text columns. Lines have their own table: the
-- validation queue and production query them one by one.

CREATE TABLE treatment (
    id                  TEXT PRIMARY KEY,
    site                TEXT NOT NULL,
    patient_id          TEXT NOT NULL,
    protocol_id         TEXT NOT NULL,
    protocol_version_id TEXT NOT NULL,
    protocol_code       TEXT NOT NULL,
    protocol_name       TEXT NOT NULL,
    version_number      INTEGER NOT NULL,
    arm                 TEXT NOT NULL DEFAULT '',
    intent              TEXT NOT NULL,
    start_date          TEXT NOT NULL,
    planned_cycles      INTEGER NOT NULL,
    cycle_length_days   INTEGER NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('planned', 'active', 'completed', 'stopped')),
    status_reason       TEXT NOT NULL DEFAULT '',
    created_at          TIMESTAMPTZ NOT NULL,
    created_by          TEXT NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX treatment_patient ON treatment (patient_id, start_date);

CREATE TABLE prescription (
    id                  TEXT PRIMARY KEY,
    site                TEXT NOT NULL,
    treatment_id        TEXT NOT NULL REFERENCES treatment (id),
    patient_id          TEXT NOT NULL,
    cycle               INTEGER NOT NULL CHECK (cycle > 0),
    start_date          TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('draft', 'signed', 'completed', 'cancelled')),
    protocol_version_id TEXT NOT NULL,
    regimen             TEXT NOT NULL,
    measurements        TEXT NOT NULL,
    days                TEXT NOT NULL,
    checks              TEXT NOT NULL,
    prescriber_id       TEXT NOT NULL,
    prescriber_name     TEXT NOT NULL,
    signed_at           TIMESTAMPTZ,
    cancel_reason       TEXT NOT NULL DEFAULT '',
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX prescription_patient ON prescription (patient_id, start_date);
CREATE INDEX prescription_treatment ON prescription (treatment_id, cycle);
-- At most one signed prescription per cycle of a treatment.
CREATE UNIQUE INDEX prescription_one_signed ON prescription (treatment_id, cycle) WHERE status IN ('signed', 'completed');

CREATE TABLE prescription_line (
    id               TEXT PRIMARY KEY,
    prescription_id  TEXT NOT NULL REFERENCES prescription (id),
    seq              INTEGER NOT NULL,
    day              INTEGER NOT NULL,
    date             TEXT NOT NULL,
    protocol_line_id TEXT NOT NULL DEFAULT '',
    drug_id          TEXT NOT NULL DEFAULT '',
    inn              TEXT NOT NULL,
    drug_class       TEXT NOT NULL DEFAULT '',
    kind             TEXT NOT NULL,
    route            TEXT NOT NULL,
    rule             TEXT NOT NULL,
    dose             DOUBLE PRECISION NOT NULL,
    unit             TEXT NOT NULL,
    calculation      TEXT NOT NULL,
    modification     TEXT NOT NULL DEFAULT '',
    vehicle          TEXT NOT NULL DEFAULT '',
    volume_ml        DOUBLE PRECISION NOT NULL DEFAULT 0,
    duration_min     INTEGER NOT NULL DEFAULT 0,
    rate_ml_h        DOUBLE PRECISION NOT NULL DEFAULT 0,
    comments         TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('proposed', 'validated', 'refused', 'cancelled')),
    validation       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX prescription_line_prescription ON prescription_line (prescription_id, seq);
CREATE INDEX prescription_line_status ON prescription_line (status, date);
