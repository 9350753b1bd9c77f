CREATE INDEX photo_hashes_band0 ON photo_hashes (band0, phash);
CREATE INDEX photo_hashes_band1 ON photo_hashes (band1, phash);
CREATE INDEX photo_hashes_band2 ON photo_hashes (band2, phash);
CREATE INDEX photo_hashes_band3 ON photo_hashes (band3, phash);
