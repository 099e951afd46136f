-- relais: reversible (it only creates tables, indexes and triggers: no existing row or column is changed)
-- Catalogue (drugs, products, diluents, stability) and the protocol library.
-- Small lists always read with their row (a product's stability entries, a
-- diluent's bag volumes, a version's content and events) are JSON text
-- columns: the row and its journal after-image are then one and the same.
-- TEXT, not jsonb: jsonb reorders keys, and a frozen version's content must
-- stay byte for byte what was approved.

CREATE TABLE drug (
    id         TEXT PRIMARY KEY,
    site       TEXT NOT NULL,
    inn        TEXT NOT NULL UNIQUE, -- trimmed, lower case
    class      TEXT NOT NULL,
    cytotoxic  BOOLEAN NOT NULL DEFAULT FALSE,
    comment    TEXT NOT NULL DEFAULT '',
    revision   INTEGER NOT NULL CHECK (revision > 0),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE product (
    id             TEXT PRIMARY KEY,
    site           TEXT NOT NULL,
    drug_id        TEXT NOT NULL REFERENCES drug (id),
    brand          TEXT NOT NULL,
    ucd            TEXT NOT NULL UNIQUE,
    ucd_demo       BOOLEAN NOT NULL DEFAULT FALSE,
    form           TEXT NOT NULL,
    strength       DOUBLE PRECISION NOT NULL CHECK (strength > 0),
    strength_unit  TEXT NOT NULL,
    volume_ml      DOUBLE PRECISION NOT NULL DEFAULT 0,
    concentration  DOUBLE PRECISION NOT NULL DEFAULT 0,
    reconstitution TEXT NOT NULL DEFAULT '',
    liste_en_sus   BOOLEAN NOT NULL DEFAULT FALSE,
    density_g_ml   DOUBLE PRECISION NOT NULL DEFAULT 0,
    stability      TEXT NOT NULL DEFAULT '[]', -- JSON list of stability entries
    comment        TEXT NOT NULL DEFAULT '',
    revision       INTEGER NOT NULL CHECK (revision > 0),
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX product_drug ON product (drug_id);

CREATE TABLE diluent (
    id         TEXT PRIMARY KEY,
    site       TEXT NOT NULL,
    name       TEXT NOT NULL UNIQUE,
    volumes_ml TEXT NOT NULL, -- JSON list of bag volumes
    comment    TEXT NOT NULL DEFAULT '',
    revision   INTEGER NOT NULL CHECK (revision > 0),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE protocol (
    id         TEXT PRIMARY KEY,
    site       TEXT NOT NULL,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    indication TEXT NOT NULL,
    population TEXT NOT NULL CHECK (population IN ('paediatric', 'adult')),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
-- Codes are unique whatever their case: "abvd" and "ABVD" are one protocol.
CREATE UNIQUE INDEX protocol_code ON protocol (lower(code));

CREATE TABLE protocol_version (
    id           TEXT PRIMARY KEY,
    protocol_id  TEXT NOT NULL REFERENCES protocol (id),
    number       INTEGER NOT NULL CHECK (number > 0),
    status       TEXT NOT NULL CHECK (status IN ('draft', 'in_test', 'active', 'retired')),
    content      TEXT NOT NULL, -- JSON of relais.ProtocolContent
    content_hash TEXT NOT NULL,
    revision     INTEGER NOT NULL CHECK (revision > 0),
    copied_from  TEXT NOT NULL DEFAULT '',
    origin       TEXT NOT NULL DEFAULT '', -- JSON of relais.DocumentOrigin, imports only
    author       TEXT NOT NULL,            -- JSON of relais.Signature
    approver     TEXT NOT NULL DEFAULT '', -- JSON of relais.Signature, once active
    events       TEXT NOT NULL,            -- JSON list of relais.VersionEvent
    site         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (protocol_id, number)
);
-- One active version per protocol.
CREATE UNIQUE INDEX protocol_version_one_active ON protocol_version (protocol_id) WHERE status = 'active';
CREATE INDEX protocol_version_status ON protocol_version (status);

-- Prescriptions point at versions: a version is never deleted, and its
-- content is frozen once it leaves draft. The store already refuses both;
-- the database refuses them too, whoever asks.
CREATE FUNCTION protocol_version_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'protocol versions are never deleted';
    END IF;
    IF OLD.status <> 'draft' AND (NEW.content <> OLD.content OR NEW.content_hash <> OLD.content_hash) THEN
        RAISE EXCEPTION 'the content of a protocol version is frozen once it leaves draft';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER protocol_version_guard BEFORE UPDATE OR DELETE ON protocol_version
    FOR EACH ROW EXECUTE FUNCTION protocol_version_guard();

CREATE FUNCTION protocol_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'protocols are never deleted';
END;
$$;
CREATE TRIGGER protocol_no_delete BEFORE DELETE ON protocol
    FOR EACH ROW EXECUTE FUNCTION protocol_no_delete();
