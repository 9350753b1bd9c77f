-- The foundation schema, the SQLite twin of migrations/postgres (same tables, same meaning).
-- Times are UTC. Subtree queries use `path LIKE prefix%` as on PostgreSQL.

CREATE TABLE org_units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('province', 'prefecture', 'county', 'township', 'village')),
    parent_code TEXT REFERENCES org_units (code),
    -- materialized path of codes from the root, '/' separated with a trailing '/':
    -- a subtree is `path LIKE '<unit path>%'`, one index range scan.
    path        TEXT NOT NULL UNIQUE,
    lat         REAL,
    lon         REAL
);
CREATE INDEX org_units_path_prefix ON org_units (path);
CREATE INDEX org_units_parent ON org_units (parent_code);

CREATE TABLE households (
    household_code TEXT PRIMARY KEY,
    village_code   TEXT NOT NULL REFERENCES org_units (code),
    head_name      TEXT NOT NULL,
    head_id_number TEXT NOT NULL,
    member_count   INTEGER NOT NULL,
    imported_at    TIMESTAMP NOT NULL
);
CREATE INDEX households_village ON households (village_code);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT,
    role          TEXT NOT NULL CHECK (role IN ('surveyor', 'reviewer', 'auditor', 'admin')),
    org_code      TEXT NOT NULL REFERENCES org_units (code),
    password_hash TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    family     TEXT NOT NULL,
    issued_at  TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE signing_keys (
    key_id      TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    public_key  TEXT NOT NULL UNIQUE,
    enrolled_at TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);
CREATE INDEX signing_keys_user ON signing_keys (user_id);

CREATE TABLE submissions (
    id             TEXT PRIMARY KEY,
    household_code TEXT NOT NULL,
    village_code   TEXT NOT NULL REFERENCES org_units (code),
    surveyor_id    TEXT NOT NULL REFERENCES users (id),
    content_digest TEXT NOT NULL,
    document       TEXT NOT NULL,
    status         TEXT NOT NULL,
    received_at    TIMESTAMP NOT NULL,
    processed_at   TIMESTAMP,
    request_id     TEXT,
    supersedes     TEXT,
    signer_key_id  TEXT,
    outcome        TEXT,
    rejections     TEXT NOT NULL DEFAULT '[]',
    flags          TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX submissions_household ON submissions (household_code);
CREATE INDEX submissions_village_status ON submissions (village_code, status, received_at);
CREATE INDEX submissions_surveyor_status ON submissions (surveyor_id, status);
CREATE INDEX submissions_queued ON submissions (received_at) WHERE status = 'queued';

CREATE TABLE submission_photos (
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    part          TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    content_type  TEXT,
    kind          TEXT,
    width         INTEGER,
    height        INTEGER,
    PRIMARY KEY (submission_id, part)
);
CREATE INDEX submission_photos_sha256 ON submission_photos (sha256);

-- One row per (submission, stage) once the stage's effects are committed: the idempotency key
-- that makes a redelivered message a no-op.
CREATE TABLE stage_runs (
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    stage         TEXT NOT NULL,
    completed_at  TIMESTAMP NOT NULL,
    worker        TEXT NOT NULL,
    PRIMARY KEY (submission_id, stage)
);

CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    payload     TEXT NOT NULL,
    request_id  TEXT,
    created_at  TIMESTAMP NOT NULL,
    sent_at     TIMESTAMP,
    lease_until TIMESTAMP,
    attempts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
