-- Resumable photo uploads (tus 1.0.0, issue 17). One row per upload: its owner, its declared
-- length, the bytes durably received so far (`upload_offset`; the spool file may hold more
-- after a crash, and is cut back to this on the next PATCH), and the SHA-256 once complete
-- (the bytes are then in the photo store under that name). Unfinished or not, a row lives
-- until `expires_at` (7 days after creation), when the upkeep removes it and its spool file.
-- A new table only: code a version older does not read it (expand/contract).
CREATE TABLE uploads (
    id            TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL REFERENCES users (id),
    length        BIGINT NOT NULL,
    upload_offset BIGINT NOT NULL DEFAULT 0,
    sha256        TEXT,
    metadata      TEXT,
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    completed_at  TIMESTAMP
);
CREATE INDEX uploads_owner ON uploads (owner_id, completed_at);
CREATE INDEX uploads_expires ON uploads (expires_at);
CREATE INDEX uploads_sha256 ON uploads (sha256);
