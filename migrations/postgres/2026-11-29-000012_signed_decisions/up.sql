-- 谁签字谁负责 for every person: signed decisions and key enrolment that a password alone
-- cannot do.

-- Each person's signed decision is taken once. Ed25519 signatures are deterministic, so a
-- replayed decision carries the same signature; it is refused by this key. `ledger_seq` is the
-- entry that took it.
CREATE TABLE decision_signatures (
    signature   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL,
    ledger_seq  BIGINT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);

-- One-time key-enrolment codes (24 h). Only the code's SHA-256 is kept; `issued_by` is the
-- ledger actor (JSON) who issued it, `key_id` the key it enrolled once used.
CREATE TABLE enrolment_codes (
    code_hash  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    issued_by  TEXT NOT NULL,
    issued_at  TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    key_id     TEXT
);
CREATE INDEX enrolment_codes_user ON enrolment_codes (user_id);

-- Separation of duties by person, not by account: the keyed HMAC of the person's ID number
-- (the PII key's, as the registry keeps them), set with `fieldsurvey user identify`. Two
-- accounts with the same value are one person.
ALTER TABLE users ADD COLUMN person_hmac TEXT;
CREATE INDEX users_person ON users (person_hmac);

-- Registry files imported: each import is a ledger entry (its sequence number is the key here);
-- importing the file that is already the registry's latest again is recognised and not
-- recorded twice (an older file imported again is: it changes the registry back).
CREATE TABLE registry_imports (
    ledger_seq  BIGINT PRIMARY KEY,
    registry    TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    imported_at TIMESTAMP NOT NULL
);
CREATE INDEX registry_imports_latest ON registry_imports (registry, ledger_seq);
