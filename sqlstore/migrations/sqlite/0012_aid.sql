-- relais: reversible (it creates tables, indexes and a trigger, and adds a column with a default to register_entry: no existing row or column is changed)
-- relais: adds register_entry.prepared_for = ""
-- Mutual aid between the sites of the network (issue 12): a site that cannot
-- prepare (a crisis, an isolator down) hands validated preparations over to
-- a support site under a written agreement (BPP 2023, chapter 5). See
-- docs/mutual-aid.md.

-- An agreement: which site may prepare for which, for which drugs, from when
-- to when. Recorded by the site that asks for help (the requester); a copy
-- is sent to the support site, which refuses any order its copy does not
-- cover. Journaled (entity "aid_agreement"); ended, never deleted.
CREATE TABLE aid_agreement (
    id             TEXT PRIMARY KEY,
    site           TEXT NOT NULL,      -- the site holding this row
    requester_site TEXT NOT NULL,      -- the site prepared for
    support_site   TEXT NOT NULL,      -- the site that prepares
    all_drugs      INTEGER NOT NULL CHECK (all_drugs IN (0, 1)),
    inns           TEXT NOT NULL,      -- JSON list of INNs (lower case) when not all_drugs
    valid_from     TEXT NOT NULL,
    valid_to       TEXT NOT NULL,
    reference      TEXT NOT NULL,      -- the signed contract's reference
    status         TEXT NOT NULL CHECK (status IN ('active', 'ended')),
    recorded       TEXT NOT NULL,      -- JSON signoff
    ended          TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CHECK (requester_site <> support_site),
    CHECK (valid_from <= valid_to)
);
CREATE INDEX aid_agreement_sites ON aid_agreement (requester_site, support_site, status);

-- One preparation handed over, as each site sees it (the same id at both
-- sites; role says which side this row is). Journaled (entity "aid_transfer").
CREATE TABLE aid_transfer (
    id                  TEXT PRIMARY KEY,
    site                TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('requester', 'support')),
    requester_site      TEXT NOT NULL,
    support_site        TEXT NOT NULL,
    agreement_id        TEXT NOT NULL,
    preparation_id      TEXT NOT NULL,  -- the same id at both sites
    prescription_id     TEXT NOT NULL,
    line_id             TEXT NOT NULL,
    patient_id          TEXT NOT NULL,
    inn                 TEXT NOT NULL,
    dose                REAL NOT NULL,
    unit                TEXT NOT NULL,
    administration_date TEXT NOT NULL,
    ward                TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('handed_over', 'accepted', 'in_production', 'shipped', 'received',
                                                        'handback_requested', 'handed_back', 'refused')),
    reason              TEXT NOT NULL DEFAULT '',
    order_doc           TEXT NOT NULL,  -- JSON: what the support site needs to prepare
    register_number     TEXT NOT NULL DEFAULT '', -- the support site's register number
    slip_number         TEXT NOT NULL DEFAULT '', -- the support site's delivery slip
    shipment            TEXT NOT NULL DEFAULT '', -- JSON: the shipment notice (release, plan, expiry, storage)
    events              TEXT NOT NULL,  -- JSON list of the steps, who and when
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX aid_transfer_status ON aid_transfer (role, status, administration_date);
CREATE INDEX aid_transfer_prescription ON aid_transfer (prescription_id);
-- A preparation is out at one support site at a time.
CREATE UNIQUE INDEX aid_transfer_live ON aid_transfer (preparation_id) WHERE status NOT IN ('handed_back', 'refused');

-- Messages to other sites, written in the transaction of the change they
-- announce and published until the destination's stream acknowledges them.
-- Transport state, not journaled.
CREATE TABLE aid_outbox (
    id         TEXT PRIMARY KEY,      -- the message id (Nats-Msg-Id)
    to_site    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at    TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX aid_outbox_pending ON aid_outbox (sent_at, created_at);

-- Messages received and applied, by id: a message delivered twice is
-- applied once.
CREATE TABLE aid_inbox (
    id         TEXT PRIMARY KEY,
    from_site  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

-- The register notes the site a preparation was made for (mutual aid):
-- written with the number, never changed.
ALTER TABLE register_entry ADD COLUMN prepared_for TEXT NOT NULL DEFAULT '';
CREATE TRIGGER register_entry_prepared_for BEFORE UPDATE OF prepared_for ON register_entry
WHEN NEW.prepared_for <> OLD.prepared_for
BEGIN
    SELECT RAISE(ABORT, 'the site a register entry was prepared for cannot change');
END;
