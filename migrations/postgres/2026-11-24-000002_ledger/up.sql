-- The append-only ledger: one row per accountable step, chained by hash. `entry` is the entry's
-- RFC 8785 canonical JSON exactly as hashed and signed; `ledger_head` is the single row every
-- append updates first, which serialises appenders (no fork, no reused sequence number).
CREATE TABLE ledger_entries (
    seq               BIGINT PRIMARY KEY,
    entry             TEXT NOT NULL,
    entry_hash        TEXT NOT NULL UNIQUE,
    service_signature TEXT NOT NULL,
    submission_id     TEXT,
    created_at        TIMESTAMP NOT NULL
);
CREATE INDEX ledger_entries_submission ON ledger_entries (submission_id);

CREATE TABLE ledger_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
