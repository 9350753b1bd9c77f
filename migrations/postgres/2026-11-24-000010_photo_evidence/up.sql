-- What the evidence stage learns of each photo: EXIF orientation and the 64-bit perceptual
-- hash (dHash, stored as the signed 64-bit integer with the same bits).
ALTER TABLE submission_photos ADD COLUMN orientation INTEGER;
ALTER TABLE submission_photos ADD COLUMN phash BIGINT;

-- The photos of current signed-off versions (a superseded version's rows are deleted with the
-- change), indexed for the reuse look-up: the same SHA-256, or a perceptual hash within 6 bits,
-- found by equality probes on four 16-bit bands (multi-index hashing: some band is within one
-- bit), never by a scan. Each band index carries the hash, so the probes are index-only: only
-- the few hashes that really are near are fetched whole.
-- Rows are written only inside sign-off transactions, after the ledger head's lock, so `id`
-- follows commit order: a sign-off re-checks just the rows committed since its look-up.
CREATE TABLE photo_fingerprints (
    id BIGSERIAL PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    part TEXT NOT NULL,
    household_code TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    phash BIGINT NOT NULL,
    band0 INTEGER NOT NULL,
    band1 INTEGER NOT NULL,
    band2 INTEGER NOT NULL,
    band3 INTEGER NOT NULL,
    UNIQUE (submission_id, part)
);
CREATE INDEX photo_fingerprints_sha256 ON photo_fingerprints (sha256);
CREATE INDEX photo_fingerprints_band0 ON photo_fingerprints (band0, phash);
CREATE INDEX photo_fingerprints_band1 ON photo_fingerprints (band1, phash);
CREATE INDEX photo_fingerprints_band2 ON photo_fingerprints (band2, phash);
CREATE INDEX photo_fingerprints_band3 ON photo_fingerprints (band3, phash);
