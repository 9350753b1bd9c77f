-- The near-duplicate photo look-up reads the stored perceptual hashes from the worker's memory
-- (db/src/hash_index.rs), brought up to date by rowid (writers take turns, so rowids grow in
-- commit order); the four band indexes are no longer read.
DROP INDEX photo_hashes_band0;
DROP INDEX photo_hashes_band1;
DROP INDEX photo_hashes_band2;
DROP INDEX photo_hashes_band3;
