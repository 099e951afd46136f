-- relais: reversible (it only creates indexes: no row or column is changed)
-- The worklists read the prescriptions that are drafts or signed, and the
-- pharmacy's home lists the preparations in a status (to check, to
-- release) whatever their day. Without an index on status those queries
-- read every prescription and every preparation of the site's history: at
-- the university hospital's full scale (27,000 cycles and 300,000
-- preparations over ten years, docs/scale.md) the home pages took tens of
-- seconds under load. Most rows are completed or administered, so a status
-- that is worked on today selects few.

CREATE INDEX prescription_status ON prescription (status);
CREATE INDEX preparation_status ON preparation (status);
