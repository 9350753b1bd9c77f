-- County (and prefecture) spot-checks: a sample of one level down's approved records, drawn
-- reproducibly from a recorded seed, each item confirmed or overturned by a reviewer.
CREATE TABLE spot_checks (
    id          TEXT PRIMARY KEY,
    unit_code   TEXT NOT NULL REFERENCES org_units (code),
    level       TEXT NOT NULL,
    drawn_by    TEXT NOT NULL REFERENCES users (id),
    rate        REAL NOT NULL,
    seed        TEXT NOT NULL,
    population  BIGINT NOT NULL,
    drawn_at    TIMESTAMP NOT NULL,
    ledger_seq  BIGINT NOT NULL
);

CREATE TABLE spot_check_items (
    spot_check_id TEXT NOT NULL REFERENCES spot_checks (id),
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    decision      TEXT,
    decided_by    TEXT,
    decided_at    TIMESTAMP,
    reason        TEXT,
    PRIMARY KEY (spot_check_id, submission_id)
);
CREATE INDEX spot_check_items_submission ON spot_check_items (submission_id);
