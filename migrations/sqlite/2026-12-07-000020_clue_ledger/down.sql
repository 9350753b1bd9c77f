-- Back to clues raised by the checks only: the others have nowhere to live in the old shape.
CREATE TABLE clues_old (
    id                  TEXT PRIMARY KEY,
    household_code      TEXT NOT NULL,
    village_code        TEXT NOT NULL REFERENCES org_units (code),
    township_code       TEXT NOT NULL,
    submission_id       TEXT NOT NULL REFERENCES submissions (id),
    kind                TEXT NOT NULL,
    detail              TEXT NOT NULL DEFAULT '{}',
    status              TEXT NOT NULL,
    opened_at           TIMESTAMP NOT NULL,
    closed_at           TIMESTAMP,
    closed_by           TEXT,
    closed_by_submission TEXT,
    close_reason        TEXT
);
INSERT INTO clues_old
SELECT id, household_code, village_code, township_code, submission_id, kind, detail,
       CASE WHEN status = 'confirmed' THEN 'closed' ELSE status END,
       opened_at, closed_at, closed_by, closed_by_submission, close_reason
  FROM clues
 WHERE household_code IS NOT NULL AND submission_id IS NOT NULL AND village_code IS NOT NULL
   AND township_code IS NOT NULL;
DROP TABLE clues;
ALTER TABLE clues_old RENAME TO clues;
CREATE INDEX clues_household ON clues (household_code, status);
CREATE INDEX clues_village_closed ON clues (village_code, status, closed_at);
