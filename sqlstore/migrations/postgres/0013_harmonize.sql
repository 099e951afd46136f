-- relais: reversible (it only creates a table: no existing row or column is changed)
-- Protocol harmonisation (issue 8, package harmonize): this site's copy of
-- the protocol versions the other sites of the network publish (active and
-- in test), so that the harmonisation page works while the hub is
-- unreachable. A cache, not a record: refilled from the network's
-- "relais-protocols" bucket, never journaled, never read by the circuit. A
-- version adopted from it becomes a local draft through the protocol import,
-- which is journaled like any other.
CREATE TABLE remote_protocol_version (
    site         TEXT NOT NULL,
    code         TEXT NOT NULL,
    number       INTEGER NOT NULL,
    status       TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    name         TEXT NOT NULL,
    population   TEXT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    version      TEXT NOT NULL, -- the version as received (harmonize.Version, JSON)
    PRIMARY KEY (site, code, number)
);
