-- Personal data at rest: the registry's names and ID numbers are sealed (see core/src/pii.rs);
-- the keyed HMAC of the head's ID number sits beside them for look-ups.
ALTER TABLE households ADD COLUMN head_id_hmac TEXT;
CREATE INDEX households_head_id_hmac ON households (head_id_hmac);

-- Every read of full ID numbers by someone other than the verifier: who, which submission, when.
CREATE TABLE pii_reads (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    read_at       TIMESTAMP NOT NULL
);
CREATE INDEX pii_reads_submission ON pii_reads (submission_id);
