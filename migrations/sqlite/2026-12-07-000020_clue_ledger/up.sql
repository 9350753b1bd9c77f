-- The clue ledger (issue 18, item 2); the SQLite twin of migrations/postgres. SQLite cannot
-- relax NOT NULL in place, so the table is rebuilt (nothing references `clues`).

CREATE TABLE clues_new (
    id                     TEXT PRIMARY KEY,
    household_code         TEXT,
    village_code           TEXT REFERENCES org_units (code),
    township_code          TEXT,
    submission_id          TEXT REFERENCES submissions (id),
    kind                   TEXT NOT NULL,
    detail                 TEXT NOT NULL DEFAULT '{}',
    status                 TEXT NOT NULL,
    opened_at              TIMESTAMP NOT NULL,
    closed_at              TIMESTAMP,
    closed_by              TEXT,
    closed_by_submission   TEXT,
    close_reason           TEXT,
    source                 TEXT NOT NULL DEFAULT 'check',
    severity               TEXT,
    org_code               TEXT NOT NULL REFERENCES org_units (code),
    confirm_org            TEXT NOT NULL REFERENCES org_units (code),
    place_path             TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    evidence               TEXT NOT NULL DEFAULT '[]',
    source_ref             TEXT NOT NULL DEFAULT '{}',
    deadline               TIMESTAMP,
    raised_by              TEXT,
    dedup_key              TEXT,
    rectification          TEXT,
    rectification_evidence TEXT NOT NULL DEFAULT '[]',
    confirmed_at           TIMESTAMP,
    confirmed_by           TEXT,
    reopen_count           INTEGER NOT NULL DEFAULT 0,
    reopen_reason          TEXT,
    escalated_at           TIMESTAMP,
    escalation_level       INTEGER NOT NULL DEFAULT 0
);

INSERT INTO clues_new (id, household_code, village_code, township_code, submission_id, kind,
    detail, status, opened_at, closed_at, closed_by, closed_by_submission, close_reason,
    org_code, confirm_org, place_path, confirmed_at, confirmed_by)
SELECT c.id, c.household_code, c.village_code, c.township_code, c.submission_id, c.kind,
       c.detail,
       -- A clue a later approved version cleared was closed by a signed, approved
       -- verification: that is 销号 already. One closed by hand awaits the county.
       CASE WHEN c.status = 'closed' AND c.closed_by_submission IS NOT NULL THEN 'confirmed'
            ELSE c.status END,
       c.opened_at, c.closed_at, c.closed_by, c.closed_by_submission, c.close_reason,
       c.township_code,
       COALESCE((SELECT t.parent_code FROM org_units t WHERE t.code = c.township_code),
                c.township_code),
       (SELECT v.path FROM org_units v WHERE v.code = c.village_code),
       CASE WHEN c.status = 'closed' AND c.closed_by_submission IS NOT NULL THEN c.closed_at END,
       CASE WHEN c.status = 'closed' AND c.closed_by_submission IS NOT NULL THEN c.closed_by END
  FROM clues c;

DROP TABLE clues;
ALTER TABLE clues_new RENAME TO clues;

CREATE INDEX clues_household ON clues (household_code, status);
CREATE INDEX clues_village_closed ON clues (village_code, status, closed_at);
CREATE UNIQUE INDEX clues_dedup ON clues (dedup_key);
CREATE INDEX clues_place ON clues (place_path, status);
CREATE INDEX clues_org ON clues (org_code, status);
CREATE INDEX clues_deadline ON clues (status, deadline);
