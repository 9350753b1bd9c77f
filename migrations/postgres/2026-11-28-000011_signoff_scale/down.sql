-- Entries still pending are lost with the table: run `fieldsurvey ledger checkpoint` (which
-- sequences them) before going back.
DROP TABLE ledger_pending;
DROP INDEX person_index_hmac_household;
CREATE INDEX photo_fingerprints_sha256 ON photo_fingerprints (sha256);
CREATE INDEX photo_fingerprints_band0 ON photo_fingerprints (band0, phash);
CREATE INDEX photo_fingerprints_band1 ON photo_fingerprints (band1, phash);
CREATE INDEX photo_fingerprints_band2 ON photo_fingerprints (band2, phash);
CREATE INDEX photo_fingerprints_band3 ON photo_fingerprints (band3, phash);
DROP INDEX photo_fingerprints_sha256_id;
DROP INDEX photo_fingerprints_phash_id;
DROP TABLE photo_hashes;
DROP INDEX submissions_household_status;
DROP TABLE household_progress;
-- Fold what is pending so the figures survive the way back.
INSERT INTO village_stats (village_code, households, surveyed, meets_standard, clues_raised, clues_closed)
SELECT village_code, SUM(households), SUM(surveyed), SUM(meets_standard), SUM(clues_raised), SUM(clues_closed)
  FROM village_stats_delta GROUP BY village_code
ON CONFLICT (village_code) DO UPDATE SET
    households = village_stats.households + excluded.households,
    surveyed = village_stats.surveyed + excluded.surveyed,
    meets_standard = village_stats.meets_standard + excluded.meets_standard,
    clues_raised = village_stats.clues_raised + excluded.clues_raised,
    clues_closed = village_stats.clues_closed + excluded.clues_closed;
DROP TABLE village_stats_delta;
