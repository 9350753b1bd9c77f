DROP INDEX households_head_name_hmac;
ALTER TABLE households DROP COLUMN head_name_hmac;
