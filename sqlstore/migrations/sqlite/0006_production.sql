-- relais: reversible (it only creates tables, indexes and triggers: no existing row or column is changed)
-- Pharmacy production: preparations, leftover vials, the register, stock, dispensing, administration, billing.
-- Small documents always read with their row (a preparation's plan and
-- sign-offs, an administration's incidents, an entry's annotations) are JSON
-- text columns: the row and its journal after-image are one and the same.

CREATE TABLE preparation (
    id                  TEXT PRIMARY KEY,
    site                TEXT NOT NULL,
    prescription_id     TEXT NOT NULL REFERENCES prescription (id),
    line_id             TEXT NOT NULL REFERENCES prescription_line (id),
    patient_id          TEXT NOT NULL,
    drug_id             TEXT NOT NULL,
    inn                 TEXT NOT NULL,
    route               TEXT NOT NULL,
    line_kind           TEXT NOT NULL,
    mode                TEXT NOT NULL CHECK (mode IN ('compounded', 'dispensed')),
    mode_reason         TEXT NOT NULL,
    dose                REAL NOT NULL,
    unit                TEXT NOT NULL,
    administration_date TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('to_prepare', 'worksheet_issued', 'prepared', 'checked', 'released',
                            'rejected', 'dispensed', 'administered', 'not_administered', 'cancelled')),
    plan                TEXT NOT NULL DEFAULT '',
    register_number     TEXT NOT NULL DEFAULT '',
    worksheet           TEXT NOT NULL DEFAULT '',
    production          TEXT NOT NULL DEFAULT '',
    second_check        TEXT NOT NULL DEFAULT '',
    release_decision    TEXT NOT NULL DEFAULT '',
    rejection           TEXT NOT NULL DEFAULT '',
    cancellation        TEXT NOT NULL DEFAULT '',
    dispensing          TEXT NOT NULL DEFAULT '',
    indication_code     TEXT NOT NULL DEFAULT '',
    replaces            TEXT NOT NULL DEFAULT '',
    expiry              TEXT,
    storage             TEXT NOT NULL DEFAULT '',
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX preparation_day ON preparation (administration_date, status);
CREATE INDEX preparation_patient ON preparation (patient_id, administration_date);
CREATE INDEX preparation_prescription ON preparation (prescription_id);
-- One live preparation per line: a rejected or cancelled one may be remade.
CREATE UNIQUE INDEX preparation_live_line ON preparation (line_id) WHERE status NOT IN ('rejected', 'cancelled');
CREATE UNIQUE INDEX preparation_register_number ON preparation (site, register_number) WHERE register_number <> '';

-- The preparation register (ordonnancier). One counter row per site and
-- year; an entry per number, of kind preparation, reserved (a block set
-- aside for a crisis node) or voided (a reserved number never used).
CREATE TABLE register_counter (
    site     TEXT NOT NULL,
    year     INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 9999),
    last_seq INTEGER NOT NULL CHECK (last_seq BETWEEN 0 AND 999999),
    PRIMARY KEY (site, year)
);

CREATE TABLE register_entry (
    id             TEXT PRIMARY KEY,
    site           TEXT NOT NULL,
    year           INTEGER NOT NULL,
    seq            INTEGER NOT NULL CHECK (seq BETWEEN 1 AND 999999),
    number         TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('preparation', 'reserved', 'voided')),
    preparation_id TEXT NOT NULL DEFAULT '',
    patient_id     TEXT NOT NULL DEFAULT '',
    inn            TEXT NOT NULL DEFAULT '',
    dose           REAL NOT NULL DEFAULT 0,
    unit           TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL CHECK (status IN ('in_progress', 'released', 'rejected', 'cancelled', 'open')),
    issued_at      TEXT NOT NULL,
    issued_by      TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    annotations    TEXT NOT NULL DEFAULT '[]',
    updated_at     TEXT NOT NULL,
    UNIQUE (site, year, seq),
    UNIQUE (site, number)
);
CREATE UNIQUE INDEX register_entry_preparation ON register_entry (preparation_id) WHERE kind = 'preparation';
CREATE INDEX register_entry_issued ON register_entry (site, issued_at);

-- Numbers never change and entries are never deleted; a closed entry
-- (released, rejected, cancelled) changes only by annotation.
CREATE TRIGGER register_entry_no_renumber BEFORE UPDATE OF site, year, seq, number ON register_entry
BEGIN
    SELECT RAISE(ABORT, 'register numbers cannot change');
END;
CREATE TRIGGER register_entry_no_delete BEFORE DELETE ON register_entry
BEGIN
    SELECT RAISE(ABORT, 'register entries cannot be deleted');
END;
CREATE TRIGGER register_entry_closed BEFORE UPDATE ON register_entry
WHEN OLD.kind = 'preparation' AND OLD.status <> 'in_progress' AND (NEW.status <> OLD.status OR NEW.kind <> OLD.kind
    OR NEW.preparation_id <> OLD.preparation_id OR NEW.patient_id <> OLD.patient_id OR NEW.inn <> OLD.inn
    OR NEW.dose <> OLD.dose OR NEW.unit <> OLD.unit OR NEW.issued_at <> OLD.issued_at OR NEW.issued_by <> OLD.issued_by)
BEGIN
    SELECT RAISE(ABORT, 'a closed register entry changes only by annotation');
END;

CREATE TABLE leftover_vial (
    id                    TEXT PRIMARY KEY,
    site                  TEXT NOT NULL,
    drug_id               TEXT NOT NULL,
    inn                   TEXT NOT NULL,
    product_id            TEXT NOT NULL REFERENCES product (id),
    brand                 TEXT NOT NULL,
    stock_lot_id          TEXT NOT NULL DEFAULT '',
    lot                   TEXT NOT NULL,
    lot_expiry            TEXT NOT NULL,
    unit                  TEXT NOT NULL,
    concentration         REAL NOT NULL CHECK (concentration > 0),
    initial_quantity      REAL NOT NULL,
    initial_volume_ml     REAL NOT NULL,
    remaining_quantity    REAL NOT NULL,
    remaining_volume_ml   REAL NOT NULL,
    opened_at             TEXT NOT NULL,
    storage               TEXT NOT NULL,
    condition             TEXT NOT NULL,
    stability_hours       REAL NOT NULL,
    stability_source      TEXT NOT NULL,
    expiry                TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('open', 'partly_used', 'used_up', 'discarded', 'expired')),
    source_preparation_id TEXT NOT NULL DEFAULT '',
    discard               TEXT NOT NULL DEFAULT '',
    recorded_by           TEXT NOT NULL,
    recorded_by_id        TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
);
CREATE INDEX leftover_vial_drug ON leftover_vial (drug_id, status, expiry);
CREATE INDEX leftover_vial_status ON leftover_vial (status, expiry);

CREATE TABLE leftover_use (
    id             TEXT PRIMARY KEY,
    leftover_id    TEXT NOT NULL REFERENCES leftover_vial (id),
    preparation_id TEXT NOT NULL,
    quantity       REAL NOT NULL,
    volume_ml      REAL NOT NULL,
    used_at        TEXT NOT NULL,
    by_name        TEXT NOT NULL
);
CREATE INDEX leftover_use_leftover ON leftover_use (leftover_id, used_at);

CREATE TABLE stock_lot (
    id                 TEXT PRIMARY KEY,
    site               TEXT NOT NULL,
    product_id         TEXT NOT NULL REFERENCES product (id),
    brand              TEXT NOT NULL,
    lot                TEXT NOT NULL,
    expiry             TEXT NOT NULL,
    quantity_received  INTEGER NOT NULL CHECK (quantity_received > 0),
    quantity_remaining INTEGER NOT NULL CHECK (quantity_remaining >= 0),
    supplier           TEXT NOT NULL DEFAULT '',
    received_by        TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (site, product_id, lot)
);

-- Tolerances of the production control per drug (percent).
CREATE TABLE drug_tolerance (
    id         TEXT PRIMARY KEY, -- the drug's id
    drug_id    TEXT NOT NULL UNIQUE REFERENCES drug (id),
    inn        TEXT NOT NULL,
    percent    REAL NOT NULL CHECK (percent > 0 AND percent <= 20),
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);

-- The pharmacy (PUI) named on every label.
CREATE TABLE pharmacy (
    id         TEXT PRIMARY KEY, -- the site
    name       TEXT NOT NULL,
    address    TEXT NOT NULL,
    phone      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE slip_counter (
    site     TEXT NOT NULL,
    year     INTEGER NOT NULL,
    last_seq INTEGER NOT NULL CHECK (last_seq >= 0),
    PRIMARY KEY (site, year)
);

CREATE TABLE delivery_slip (
    id            TEXT PRIMARY KEY,
    site          TEXT NOT NULL,
    number        TEXT NOT NULL,
    ward          TEXT NOT NULL,
    round_date    TEXT NOT NULL,
    round         TEXT NOT NULL CHECK (round IN ('morning', 'afternoon', 'evening')),
    created_by    TEXT NOT NULL,
    created_by_id TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    receipt       TEXT NOT NULL DEFAULT '',
    updated_at    TEXT NOT NULL,
    UNIQUE (site, number)
);
CREATE INDEX delivery_slip_day ON delivery_slip (round_date, ward);

CREATE TABLE slip_item (
    slip_id        TEXT NOT NULL REFERENCES delivery_slip (id),
    preparation_id TEXT NOT NULL UNIQUE REFERENCES preparation (id),
    position       INTEGER NOT NULL,
    PRIMARY KEY (slip_id, preparation_id)
);

CREATE TABLE administration (
    id              TEXT PRIMARY KEY,
    site            TEXT NOT NULL,
    preparation_id  TEXT NOT NULL UNIQUE REFERENCES preparation (id),
    patient_id      TEXT NOT NULL,
    register_number TEXT NOT NULL DEFAULT '',
    outcome         TEXT NOT NULL CHECK (outcome IN ('administered', 'returned', 'destroyed')),
    started_at      TEXT,
    ended_at        TEXT,
    volume_given_ml REAL NOT NULL DEFAULT 0,
    rate_ml_h       REAL NOT NULL DEFAULT 0,
    interruptions   TEXT NOT NULL DEFAULT '[]',
    incidents       TEXT NOT NULL DEFAULT '[]',
    scan            TEXT NOT NULL DEFAULT '',
    second_nurse    TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL DEFAULT '',
    cost_eur        REAL NOT NULL DEFAULT 0,
    indication_code TEXT NOT NULL DEFAULT '',
    comment         TEXT NOT NULL DEFAULT '',
    recorded_by     TEXT NOT NULL,
    recorded_by_id  TEXT NOT NULL,
    recorded_at     TEXT NOT NULL
);
CREATE INDEX administration_patient ON administration (patient_id, started_at);

CREATE TABLE billing_line (
    id                TEXT PRIMARY KEY,
    site              TEXT NOT NULL,
    administration_id TEXT NOT NULL REFERENCES administration (id),
    preparation_id    TEXT NOT NULL,
    register_number   TEXT NOT NULL DEFAULT '',
    patient_id        TEXT NOT NULL,
    ipp               TEXT NOT NULL,
    product_id        TEXT NOT NULL,
    brand             TEXT NOT NULL,
    ucd               TEXT NOT NULL,
    ucd_demo          INTEGER NOT NULL DEFAULT 0,
    quantity          REAL NOT NULL CHECK (quantity > 0),
    indication_code   TEXT NOT NULL,
    administered_on   TEXT NOT NULL,
    month             TEXT NOT NULL,
    created_at        TEXT NOT NULL
);
CREATE INDEX billing_line_month ON billing_line (site, month, administered_on);
