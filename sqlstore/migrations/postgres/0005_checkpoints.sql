-- relais: reversible (it only creates tables, indexes and triggers: no existing row or column is changed)
-- Signed checkpoints of the journal chain: "entry seq of site's chain has
-- hash", signed with the site's ed25519 key (journal.Checkpoint). Writing one
-- is not a change of state and is not journaled: it vouches for the journal.
-- Rows of other sites' checkpoints may arrive with their chains.
CREATE TABLE journal_checkpoint (
    site       TEXT        NOT NULL,
    seq        BIGINT      NOT NULL,
    hash       TEXT        NOT NULL,
    time       TIMESTAMPTZ NOT NULL,
    public_key TEXT        NOT NULL,
    signature  TEXT        NOT NULL,
    PRIMARY KEY (site, seq)
);
