-- Progress figures per village, kept exact by the transactions that change them (sign-off,
-- supersession, review, spot-check, clue closure, registry import): the figures of any unit are
-- a sum over its villages' rows, not a scan of every submission below it.
CREATE TABLE village_stats (
    village_code   TEXT PRIMARY KEY REFERENCES org_units (code),
    households     BIGINT NOT NULL DEFAULT 0,
    surveyed       BIGINT NOT NULL DEFAULT 0,
    meets_standard BIGINT NOT NULL DEFAULT 0,
    clues_raised   BIGINT NOT NULL DEFAULT 0,
    clues_closed   BIGINT NOT NULL DEFAULT 0
);

INSERT INTO village_stats (village_code, households, surveyed, meets_standard, clues_raised, clues_closed)
SELECT o.code,
       (SELECT COUNT(*) FROM households h WHERE h.village_code = o.code),
       (SELECT COUNT(DISTINCT s.household_code) FROM submissions s
         WHERE s.village_code = o.code AND s.status IN ('signed_off', 'approved', 'returned')),
       (SELECT COUNT(DISTINCT s.household_code) FROM submissions s
          JOIN submission_outcomes so ON so.submission_id = s.id
         WHERE s.village_code = o.code AND s.status IN ('signed_off', 'approved', 'returned')
           AND so.meets_standard = TRUE),
       (SELECT COUNT(*) FROM clues c WHERE c.village_code = o.code),
       (SELECT COUNT(*) FROM clues c WHERE c.village_code = o.code AND c.status = 'closed')
  FROM org_units o
 WHERE o.level = 'village';
