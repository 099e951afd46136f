-- relais: reversible (it only creates tables, indexes and triggers: no existing row or column is changed)
-- Interoperability: the inbound HL7 log, the outbox of documents sent to
-- EHRs and MSSanté mailboxes, and the used launch tokens. None of these is
-- journaled: the changes they cause (patients created, merged…) are, in the
-- same transaction; these tables are the interfaces' own record.

-- Every HL7 message received, kept as received (raw bytes, in the sender's
-- character set), with how it was answered. A message seen again (same
-- sender, same MSH-10) is answered from its row and counted in duplicates;
-- rejected messages (AR) do not take part in that uniqueness, so a corrected
-- message may reuse the control id of one that was refused.
CREATE TABLE hl7_message (
    id               TEXT PRIMARY KEY,
    received_at      TEXT NOT NULL,
    peer             TEXT NOT NULL DEFAULT '',
    sending_app      TEXT NOT NULL DEFAULT '',
    sending_facility TEXT NOT NULL DEFAULT '',
    control_id       TEXT NOT NULL DEFAULT '',
    event            TEXT NOT NULL DEFAULT '',
    charset          TEXT NOT NULL DEFAULT '',
    raw              BLOB NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('applied', 'error', 'rejected')),
    ack_code         TEXT NOT NULL CHECK (ack_code IN ('AA', 'AE', 'AR')),
    errors           TEXT NOT NULL DEFAULT '[]',   -- JSON: located faults, as the ERR segments said
    note             TEXT NOT NULL DEFAULT '',
    patient_id       TEXT NOT NULL DEFAULT '',
    summary          TEXT NOT NULL DEFAULT '',
    search           TEXT NOT NULL DEFAULT '',     -- lower-case, accents folded: summary, ids, errors
    duplicates       INTEGER NOT NULL DEFAULT 0,
    replays          INTEGER NOT NULL DEFAULT 0,
    last_replay_at   TEXT,
    last_replay_by   TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX hl7_message_control ON hl7_message (sending_app, sending_facility, control_id) WHERE status <> 'rejected';
CREATE INDEX hl7_message_received ON hl7_message (received_at);
CREATE INDEX hl7_message_status ON hl7_message (status, received_at);

-- Documents and messages to send. A row is sent by the worker, retried with
-- backoff while its destination is down, and marked stuck after too many
-- attempts (it is still retried, less often, and shown to IT).
CREATE TABLE outbox_message (
    id              TEXT PRIMARY KEY,
    created_at      TEXT NOT NULL,
    site            TEXT NOT NULL,
    destination     TEXT NOT NULL,                 -- a configured destination's name
    transport       TEXT NOT NULL CHECK (transport IN ('mllp', 'smtp')),
    kind            TEXT NOT NULL,                 -- e.g. treatment_plan, administration_report
    dedupe_key      TEXT NOT NULL,                 -- the same document for the same destination is queued once
    subject_id      TEXT NOT NULL DEFAULT '',      -- what it is about: the prescription
    patient_id      TEXT NOT NULL DEFAULT '',
    payload         BLOB NOT NULL,                 -- the HL7 message or the e-mail, ready to send
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'stuck')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    last_attempt_at TEXT,
    sent_at         TEXT,
    reply           TEXT NOT NULL DEFAULT '',      -- the peer's answer (ACK, SMTP reply)
    UNIQUE (destination, dedupe_key)
);
CREATE INDEX outbox_due ON outbox_message (status, next_attempt_at);

-- How far the outbox has read the journal: the documents due after a
-- signature or an administration are queued from the journal, so that none
-- is lost if Relais stops between the change and the queueing.
CREATE TABLE outbox_cursor (
    site TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
);

-- Launch tokens already used: a token's jti is refused a second time, also
-- after a restart. Rows older than their expiry plus a margin may be
-- removed: an expired token is refused anyway.
CREATE TABLE launch_token (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    used_at    TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    patient_id TEXT NOT NULL DEFAULT '',
    purpose    TEXT NOT NULL DEFAULT '',
    remote     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX launch_token_expires ON launch_token (expires_at);
