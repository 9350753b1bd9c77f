-- Jobs (issue 19): work a person asks for that is too long for a request — an export of a
-- county's households, a village's dossiers as one ZIP, a bulletin. One row per job: what
-- (`kind`, `params` as JSON), who asked and the jurisdiction they asked in (`org_code`, the
-- requester's unit at the time: the download is theirs and their unit's), where it stands
-- (`status`: queued, running, done, failed; `progress_done` of `progress_total`), and once done
-- where the result is in the service's storage (`result_key`) with its name, type, size and
-- SHA-256. A running job's worker writes `heartbeat_at` as it goes: one whose heartbeat is old
-- lost its worker and is taken again (`attempts` counts the runs). `expires_at`: when the
-- result and the row are collected.
-- A new table only: code a version older does not read it (expand/contract).
CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    params         TEXT NOT NULL,
    requested_by   TEXT NOT NULL REFERENCES users (id),
    org_code       TEXT NOT NULL,
    status         TEXT NOT NULL,
    progress_done  BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    heartbeat_at   TIMESTAMP,
    result_key     TEXT,
    result_name    TEXT,
    result_type    TEXT,
    result_size    BIGINT,
    result_sha256  TEXT,
    error          TEXT,
    created_at     TIMESTAMP NOT NULL,
    started_at     TIMESTAMP,
    finished_at    TIMESTAMP,
    expires_at     TIMESTAMP NOT NULL
);
CREATE INDEX jobs_requested_by ON jobs (requested_by, created_at);
CREATE INDEX jobs_status ON jobs (status, heartbeat_at);
CREATE INDEX jobs_expires ON jobs (expires_at);
