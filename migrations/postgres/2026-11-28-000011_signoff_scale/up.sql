-- Sign-offs that scale (no recount, no unbounded look-up inside the sign-off's transaction).

-- Progress figures kept by difference. A transaction that changes a figure inserts a delta row
-- (never updates a shared row, so concurrent sign-offs in one village do not wait on each
-- other); `fieldsurvey_db::progress::fold` moves the deltas into `village_stats` in one
-- statement, and readers add the deltas not yet folded.
CREATE TABLE village_stats_delta (
    id             BIGSERIAL PRIMARY KEY,
    village_code   TEXT NOT NULL,
    households     BIGINT NOT NULL DEFAULT 0,
    surveyed       BIGINT NOT NULL DEFAULT 0,
    meets_standard BIGINT NOT NULL DEFAULT 0,
    clues_raised   BIGINT NOT NULL DEFAULT 0,
    clues_closed   BIGINT NOT NULL DEFAULT 0
);

-- Whether a household counts as surveyed / meeting the standard in a village (it has a current
-- version filed there): the state the deltas are differences of, one row per pair.
CREATE TABLE household_progress (
    village_code   TEXT NOT NULL,
    household_code TEXT NOT NULL,
    surveyed       BOOLEAN NOT NULL,
    meets_standard BOOLEAN NOT NULL,
    PRIMARY KEY (village_code, household_code)
);
INSERT INTO household_progress (village_code, household_code, surveyed, meets_standard)
SELECT s.village_code, s.household_code, TRUE,
       bool_or(COALESCE(so.meets_standard, FALSE))
  FROM submissions s LEFT JOIN submission_outcomes so ON so.submission_id = s.id
 WHERE s.status IN ('signed_off', 'approved', 'returned')
 GROUP BY s.village_code, s.household_code;

-- A household's current versions, found by index (bounded whatever its number of versions).
CREATE INDEX submissions_household_status ON submissions (household_code, status);

-- Distinct perceptual hashes, probed by band: a photo filed ten thousand times is one row
-- here, so a look-up reads each near hash once; its versions are then read newest first, a
-- few at most, from `(phash, id)` and `(sha256, id)`.
CREATE TABLE photo_hashes (
    phash BIGINT PRIMARY KEY,
    band0 INTEGER NOT NULL,
    band1 INTEGER NOT NULL,
    band2 INTEGER NOT NULL,
    band3 INTEGER NOT NULL
);
INSERT INTO photo_hashes (phash, band0, band1, band2, band3)
SELECT DISTINCT phash, band0, band1, band2, band3 FROM photo_fingerprints;
CREATE INDEX photo_hashes_band0 ON photo_hashes (band0, phash);
CREATE INDEX photo_hashes_band1 ON photo_hashes (band1, phash);
CREATE INDEX photo_hashes_band2 ON photo_hashes (band2, phash);
CREATE INDEX photo_hashes_band3 ON photo_hashes (band3, phash);
-- Both tables are (nearly) insert-only and read by index-only scans, which need the visibility
-- map: vacuum them after 1% new rows, not PostgreSQL's default 20% for inserts.
ALTER TABLE photo_hashes SET (autovacuum_vacuum_insert_scale_factor = 0.01);
ALTER TABLE photo_fingerprints SET (autovacuum_vacuum_insert_scale_factor = 0.01);
CREATE INDEX photo_fingerprints_phash_id ON photo_fingerprints (phash, id);
CREATE INDEX photo_fingerprints_sha256_id ON photo_fingerprints (sha256, id);
DROP INDEX photo_fingerprints_sha256;
DROP INDEX photo_fingerprints_band0;
DROP INDEX photo_fingerprints_band1;
DROP INDEX photo_fingerprints_band2;
DROP INDEX photo_fingerprints_band3;

-- One person's other households, newest first, a few at most.
CREATE INDEX person_index_hmac_household ON person_index (id_hmac, household_code);

-- Ledger entries committed with their state change but not yet in the chain: a sign-off inserts
-- here (no shared row), and `fieldsurvey_db::ledger::sequence` moves them into `ledger_entries`
-- in batches under the head's lock (group commit), in `id` order.
CREATE TABLE ledger_pending (
    id            BIGSERIAL PRIMARY KEY,
    entry         TEXT NOT NULL,
    submission_id TEXT,
    created_at    TIMESTAMP NOT NULL
);
