CREATE INDEX clues_village ON clues (village_code, status);
DROP INDEX clues_village_closed;

-- Back to the previous meaning: every household with a signed-off, approved or returned
-- version counts as surveyed, in the registry or not.
INSERT INTO village_stats (village_code, households, surveyed, meets_standard, clues_raised, clues_closed)
SELECT village_code, SUM(households), SUM(surveyed), SUM(meets_standard), SUM(clues_raised),
       SUM(clues_closed)
  FROM village_stats_delta GROUP BY village_code
ON CONFLICT (village_code) DO UPDATE SET
    households = village_stats.households + excluded.households,
    surveyed = village_stats.surveyed + excluded.surveyed,
    meets_standard = village_stats.meets_standard + excluded.meets_standard,
    clues_raised = village_stats.clues_raised + excluded.clues_raised,
    clues_closed = village_stats.clues_closed + excluded.clues_closed;
DELETE FROM village_stats_delta;
DELETE FROM household_progress;
INSERT INTO household_progress (village_code, household_code, surveyed, meets_standard)
SELECT s.village_code, s.household_code, TRUE,
       bool_or(COALESCE(so.meets_standard, FALSE))
  FROM submissions s LEFT JOIN submission_outcomes so ON so.submission_id = s.id
 WHERE s.status IN ('signed_off', 'approved', 'returned')
 GROUP BY s.village_code, s.household_code;
UPDATE village_stats SET surveyed = 0, meets_standard = 0;
INSERT INTO village_stats (village_code, surveyed, meets_standard)
SELECT village_code, COUNT(*), SUM(CASE WHEN meets_standard THEN 1 ELSE 0 END)
  FROM household_progress GROUP BY village_code
ON CONFLICT (village_code) DO UPDATE SET
    surveyed = excluded.surveyed,
    meets_standard = excluded.meets_standard;

ALTER TABLE village_stats_delta DROP COLUMN unregistered;
ALTER TABLE village_stats DROP COLUMN unregistered;
ALTER TABLE household_progress DROP COLUMN unregistered;
