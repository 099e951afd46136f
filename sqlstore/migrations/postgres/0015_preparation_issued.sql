-- relais: reversible (it only creates an index: no row or column is changed)
-- The preparations whose worksheet is issued and not yet produced: their
-- reserved leftover volumes are summed each time a preparation is planned
-- or a worksheet issued (production.go, reservedLeftovers). Without this
-- index that query read the whole preparation table, which grows by about
-- 60,000 rows a year at a regional centre (docs/scale.md).

CREATE INDEX preparation_issued ON preparation (id) WHERE status = 'worksheet_issued';
