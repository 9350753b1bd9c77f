DROP TABLE pii_reads;
DROP INDEX households_head_id_hmac;
ALTER TABLE households DROP COLUMN head_id_hmac;
