-- Honest figures (issue 16). 已核实 (`surveyed`) counts the households of the registry whose
-- current version is signed off or approved, and 达标 (`meets_standard`) those of them whose
-- such version meets the standard; a returned, rejected or pending version counts for neither.
-- A household code outside the registry with such a version counts apart, as 疑似漏评
-- (`unregistered`). Before, both counted returned versions and codes outside the registry.

ALTER TABLE household_progress ADD COLUMN unregistered BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE village_stats ADD COLUMN unregistered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE village_stats_delta ADD COLUMN unregistered BIGINT NOT NULL DEFAULT 0;

-- Fold what is pending, so that the recounted columns can be set outright below.
INSERT INTO village_stats (village_code, households, surveyed, meets_standard, clues_raised, clues_closed)
SELECT village_code, SUM(households), SUM(surveyed), SUM(meets_standard), SUM(clues_raised),
       SUM(clues_closed)
  FROM village_stats_delta WHERE true GROUP BY village_code
ON CONFLICT (village_code) DO UPDATE SET
    households = village_stats.households + excluded.households,
    surveyed = village_stats.surveyed + excluded.surveyed,
    meets_standard = village_stats.meets_standard + excluded.meets_standard,
    clues_raised = village_stats.clues_raised + excluded.clues_raised,
    clues_closed = village_stats.clues_closed + excluded.clues_closed;
DELETE FROM village_stats_delta;

-- Each household's standing, recounted from the records in the new meaning.
DELETE FROM household_progress;
INSERT INTO household_progress (village_code, household_code, surveyed, meets_standard, unregistered)
SELECT s.village_code, s.household_code,
       MAX(h.household_code IS NOT NULL),
       MAX(h.household_code IS NOT NULL AND COALESCE(so.meets_standard, 0)),
       MIN(h.household_code IS NULL)
  FROM submissions s
  LEFT JOIN submission_outcomes so ON so.submission_id = s.id
  LEFT JOIN households h ON h.household_code = s.household_code
 WHERE s.status IN ('signed_off', 'approved')
 GROUP BY s.village_code, s.household_code;

UPDATE village_stats SET surveyed = 0, meets_standard = 0, unregistered = 0;
INSERT INTO village_stats (village_code, surveyed, meets_standard, unregistered)
SELECT village_code,
       SUM(CASE WHEN surveyed THEN 1 ELSE 0 END),
       SUM(CASE WHEN meets_standard THEN 1 ELSE 0 END),
       SUM(CASE WHEN unregistered THEN 1 ELSE 0 END)
  FROM household_progress WHERE true GROUP BY village_code
ON CONFLICT (village_code) DO UPDATE SET
    surveyed = excluded.surveyed,
    meets_standard = excluded.meets_standard,
    unregistered = excluded.unregistered;

-- The dashboard's 30-day trend counts clues closed per day in a unit's villages: by index,
-- whatever the number of clues closed before. (It covers what `clues_village` served.)
CREATE INDEX clues_village_closed ON clues (village_code, status, closed_at);
DROP INDEX clues_village;
