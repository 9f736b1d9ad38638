-- Documents: one row per platform document this PC has seen.
CREATE TABLE documents (
    uuid                TEXT PRIMARY KEY,
    source              TEXT NOT NULL DEFAULT 'askara',
    doc_type            TEXT NOT NULL DEFAULT '',
    patient_uuid        TEXT NOT NULL DEFAULT '',
    patient_external_id TEXT NOT NULL DEFAULT '',
    patient_first_name  TEXT NOT NULL DEFAULT '',
    patient_last_name   TEXT NOT NULL DEFAULT '',
    patient_birth_date  TEXT NOT NULL DEFAULT '',
    file_name           TEXT NOT NULL DEFAULT '',
    state               TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending','downloading','saved','confirmed','failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    error_code          TEXT NOT NULL DEFAULT '',
    last_error          TEXT NOT NULL DEFAULT '',
    retryable           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL DEFAULT 0, -- unix ms; 0 = none scheduled
    failure_reported    INTEGER NOT NULL DEFAULT 0, -- success:false sent for the current failure
    manual_retry_at     INTEGER NOT NULL DEFAULT 0, -- unix ms of the last manual retry
    temp_dir            TEXT NOT NULL DEFAULT '',   -- folder that may hold a half-written temp file
    final_path          TEXT NOT NULL DEFAULT '',
    size                INTEGER NOT NULL DEFAULT 0,
    sha256              TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    confirmed_at        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX documents_state ON documents(state, next_attempt_at);
CREATE INDEX documents_updated ON documents(updated_at);

-- Activity: append-only log a person reads in the window and with `clinicsync log`.
CREATE TABLE activity (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL, -- unix ms
    level   TEXT NOT NULL CHECK (level IN ('debug','info','warn','error')),
    item    TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL
);
CREATE INDEX activity_item ON activity(item);
CREATE TRIGGER activity_no_update BEFORE UPDATE ON activity
BEGIN SELECT RAISE(ABORT, 'activity is append-only'); END;

-- Cursors and small facts (last pass time, note cursors, ...).
CREATE TABLE cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
