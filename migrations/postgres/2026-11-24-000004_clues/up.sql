-- What the review queue and the stats read without parsing documents, for each signed-off
-- version: whether it meets the standard, when its review is due (working days after
-- sign-off), and at which level. Beside `submissions` rather than in it, to keep that table's width.
CREATE TABLE submission_outcomes (
    submission_id  TEXT PRIMARY KEY REFERENCES submissions (id),
    meets_standard BOOLEAN NOT NULL,
    review_due_at  TIMESTAMP NOT NULL,
    -- The level that decides it: the township, or the level that returned the version it
    -- corrects (a correction re-enters review where it was sent back).
    review_level   TEXT NOT NULL DEFAULT 'township'
);
CREATE INDEX submission_outcomes_due ON submission_outcomes (review_due_at);

-- The people of each household's latest signed-off version, by a keyed HMAC of the ID number
-- (never the number itself): the duplicate-person check is one indexed look-up per member.
CREATE TABLE person_index (
    id_hmac        TEXT NOT NULL,
    household_code TEXT NOT NULL,
    submission_id  TEXT NOT NULL,
    member_index   INTEGER NOT NULL,
    PRIMARY KEY (household_code, member_index)
);
CREATE INDEX person_index_hmac ON person_index (id_hmac);

-- Problem clues (问题线索): raised by a failing indicator or a flag, assigned to the household's
-- township, closed by a later approved version that passes or by hand with a reason.
CREATE TABLE clues (
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
CREATE INDEX clues_household ON clues (household_code, status);
CREATE INDEX clues_village ON clues (village_code, status);
