-- The near-duplicate photo look-up reads the stored perceptual hashes from each worker's memory
-- (db/src/hash_index.rs), not from the four band indexes: probed in PostgreSQL they cost ~10 ms
-- of the server's CPU per photo at two million hashes, growing with every photo filed. A worker
-- brings its copy up to date from the rows written since its last read, found by the id of
-- the transaction that wrote them (NULL for the rows already here: a worker reads all of them
-- when it starts).
ALTER TABLE photo_hashes ADD COLUMN xid BIGINT;
ALTER TABLE photo_hashes ALTER COLUMN xid SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX photo_hashes_xid ON photo_hashes (xid);
DROP INDEX photo_hashes_band0;
DROP INDEX photo_hashes_band1;
DROP INDEX photo_hashes_band2;
DROP INDEX photo_hashes_band3;
