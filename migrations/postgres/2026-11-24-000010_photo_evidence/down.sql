DROP TABLE photo_fingerprints;
ALTER TABLE submission_photos DROP COLUMN phash;
ALTER TABLE submission_photos DROP COLUMN orientation;
