-- Every acknowledged submission reaches a final state, or a person is told why it has not.
-- A submission whose processing message was parked (every attempt failed, or it can never
-- succeed as it stands) has status `needs_attention` and a row here with the reason, until an
-- operator re-drives it (`fieldsurvey redrive`); nothing is lost in between.
CREATE TABLE submission_attention (
    submission_id TEXT PRIMARY KEY REFERENCES submissions (id),
    reason        TEXT NOT NULL,
    since         TIMESTAMP NOT NULL
);
CREATE INDEX submission_attention_since ON submission_attention (since);

-- What happened to a submission's processing outside the ledger's decisions: parked (with the
-- reason), re-driven by an operator (who), re-sent by the sweeper (its message was lost).
CREATE TABLE attention_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    at            TIMESTAMP NOT NULL,
    event         TEXT NOT NULL CHECK (event IN ('parked', 'redriven', 'resent')),
    reason        TEXT,
    actor         TEXT NOT NULL
);
CREATE INDEX attention_log_submission ON attention_log (submission_id, id);

-- The sweeper finds a queued submission's processing message by its id.
CREATE INDEX outbox_message ON outbox (message_id);
