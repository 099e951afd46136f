-- relais: reversible (it only creates tables, indexes and triggers: no existing row or column is changed)
-- Access: lock-out, sessions, password-reset links, passkeys, single sign-on
-- identities, API tokens, the access log and break-the-glass accesses.
-- Secrets (session ids, reset links, API tokens) are kept as SHA-256 hashes only.

-- Lock-out. failed_sign_ins counts failures in a row and is not journaled
-- (an attacker could otherwise fill the journal); locked_until is, through
-- the user entity.
ALTER TABLE app_user ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE app_user ADD COLUMN locked_until TEXT;
ALTER TABLE app_user ADD COLUMN identity_provider TEXT NOT NULL DEFAULT '';

-- Sessions are not journaled: see sqlstore/session.go.
CREATE TABLE app_session (
    id_hash               TEXT PRIMARY KEY,
    user_id               TEXT NOT NULL REFERENCES app_user (id),
    method                TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    last_seen_at          TEXT NOT NULL,
    expires_at            TEXT NOT NULL,
    pending_second_factor INTEGER NOT NULL DEFAULT 0,
    remote_addr           TEXT NOT NULL DEFAULT '',
    user_agent            TEXT NOT NULL DEFAULT '',
    revalidate_at         TEXT,
    sealed_refresh        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX app_session_user ON app_session (user_id);

CREATE TABLE password_reset (
    id         TEXT PRIMARY KEY,
    site       TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES app_user (id),
    token_hash TEXT NOT NULL UNIQUE,
    issued_by  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    revoked_at TEXT
);
CREATE INDEX password_reset_user ON password_reset (user_id);

CREATE TABLE passkey (
    id            TEXT PRIMARY KEY,
    site          TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES app_user (id),
    name          TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    public_key    TEXT NOT NULL,
    credential    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);
CREATE INDEX passkey_user ON passkey (user_id);

CREATE TABLE external_identity (
    id         TEXT PRIMARY KEY,
    site       TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES app_user (id),
    created_at TEXT NOT NULL,
    UNIQUE (issuer, subject)
);

CREATE TABLE api_token (
    id           TEXT PRIMARY KEY,
    site         TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES app_user (id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    permissions  TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
);

-- The access log is append-only: the triggers refuse any change or removal,
-- whoever asks.
CREATE TABLE access_log (
    id          TEXT PRIMARY KEY,
    at          TEXT NOT NULL,
    site        TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    username    TEXT NOT NULL,
    role        TEXT NOT NULL,
    user_site   TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    route       TEXT NOT NULL,
    remote_addr TEXT NOT NULL,
    break_glass INTEGER NOT NULL DEFAULT 0,
    grant_id    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_log_patient ON access_log (patient_id, at);
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;

CREATE TABLE access_grant (
    id          TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES app_user (id),
    username    TEXT NOT NULL,
    user_site   TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    reviewed_at TEXT,
    reviewed_by TEXT NOT NULL DEFAULT '',
    review_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_grant_user ON access_grant (user_id, patient_id, expires_at);
