-- relais: reversible (it only creates a table: no existing row or column is changed)
-- The clients a server has seen (issue 11, seed 004): each client (a browser,
-- a script, another site, a crisis node) by its id, with the API version and
-- user agent it last sent. `relais upgrade check` lists those seen in the
-- last hour before an upgrade, so that an old client left connected is
-- found before it meets the new server. Written by sqlstore.ClientLog from
-- memory every minute; operational telemetry, not journaled.

CREATE TABLE client_seen (
    client_id   TEXT PRIMARY KEY,
    api_version TEXT NOT NULL,
    agent       TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    requests    INTEGER NOT NULL,
    refused     INTEGER NOT NULL
);
CREATE INDEX client_seen_last ON client_seen (last_seen);
