-- What the evidence stage learns of each photo: EXIF orientation and the 64-bit perceptual
-- hash (dHash, stored as the signed 64-bit integer with the same bits).
ALTER TABLE submission_photos ADD COLUMN orientation INTEGER;
ALTER TABLE submission_photos ADD COLUMN phash BIGINT;

-- The photos of signed-off versions, indexed for the reuse look-up: the same SHA-256, or a
-- perceptual hash within 6 bits, found by equality probes on four 16-bit bands (multi-index
-- hashing: some band is within one bit), never by a scan.
CREATE TABLE photo_fingerprints (
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    part TEXT NOT NULL,
    household_code TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    phash BIGINT NOT NULL,
    band0 INTEGER NOT NULL,
    band1 INTEGER NOT NULL,
    band2 INTEGER NOT NULL,
    band3 INTEGER NOT NULL,
    PRIMARY KEY (submission_id, part)
);
CREATE INDEX photo_fingerprints_sha256 ON photo_fingerprints (sha256);
CREATE INDEX photo_fingerprints_band0 ON photo_fingerprints (band0);
CREATE INDEX photo_fingerprints_band1 ON photo_fingerprints (band1);
CREATE INDEX photo_fingerprints_band2 ON photo_fingerprints (band2);
CREATE INDEX photo_fingerprints_band3 ON photo_fingerprints (band3);
