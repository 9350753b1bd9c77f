ALTER TABLE submission_photos DROP COLUMN exif_lon;
ALTER TABLE submission_photos DROP COLUMN exif_lat;
ALTER TABLE submission_photos DROP COLUMN exif_time;
