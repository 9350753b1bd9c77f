-- Signed tree heads of the ledger, one per size: published at intervals and on demand, kept so
-- that an auditor holding an old one can check that a newer one extends it. `body` is the
-- checkpoint's JSON exactly as signed and served.
CREATE TABLE ledger_checkpoints (
    size       BIGINT PRIMARY KEY,
    body       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Reviewers' decisions (approve / return with reasons), each recorded by a ledger entry whose
-- sequence number is kept here.
CREATE TABLE reviews (
    id             TEXT PRIMARY KEY,
    submission_id  TEXT NOT NULL REFERENCES submissions (id),
    reviewer_id    TEXT NOT NULL REFERENCES users (id),
    org_level      TEXT NOT NULL,
    decision       TEXT NOT NULL,
    content_digest TEXT NOT NULL,
    reasons        TEXT NOT NULL DEFAULT '[]',
    decided_at     TIMESTAMP NOT NULL,
    ledger_seq     BIGINT NOT NULL
);
CREATE INDEX reviews_submission ON reviews (submission_id);

-- A correction names the version it replaces; the replaced version points forward to it.
ALTER TABLE submissions ADD COLUMN superseded_by TEXT;
