-- relais: reversible (it only adds a row to meta: no row or column is changed)
-- SQLite stores long journal images compressed from this version on
-- (journal_docs.go); PostgreSQL keeps them as text and compresses long values
-- itself (TOAST). The row says so, and the schema version stays the same on
-- both engines.

INSERT INTO meta (key, value) VALUES ('journal_images', 'text');
