-- relais: reversible (it only adds a row to meta: no row or column is changed)
-- From this version on, SQLite stores a journal image (before, after) of
-- 512 bytes or more compressed, as a zstd frame in a BLOB (journal_docs.go,
-- docs/audit.md "How the images are stored"). Images written before stay
-- text and read as they are. This migration changes no data: it raises the
-- schema version, so that an earlier Relais, which would read a compressed
-- image as text, refuses this database instead of misreading its journal.

INSERT INTO meta (key, value) VALUES ('journal_images', 'zstd from 512 bytes');
