-- What each photo's EXIF says: capture time (RFC 3339) and place (decimal degrees).
ALTER TABLE submission_photos ADD COLUMN exif_time TEXT;
ALTER TABLE submission_photos ADD COLUMN exif_lat REAL;
ALTER TABLE submission_photos ADD COLUMN exif_lon REAL;
