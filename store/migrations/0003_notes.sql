-- Clinical notes written as text files: one row per platform note.
CREATE TABLE notes (
    source          TEXT NOT NULL,             -- askara, nabla, soapnoteapi
    id              TEXT NOT NULL,             -- the platform's note id
    correlation_id  TEXT NOT NULL DEFAULT '',  -- client_request_id / note_id
    kind            TEXT NOT NULL DEFAULT 'note',
    note_type       TEXT NOT NULL DEFAULT '',
    patient_name    TEXT NOT NULL DEFAULT '',  -- for the window; '' when the note has no patient
    inbox           INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL DEFAULT 0, -- the platform's times, unix ms
    updated_at      INTEGER NOT NULL DEFAULT 0,
    path            TEXT NOT NULL DEFAULT '',
    sha256          TEXT NOT NULL DEFAULT '',
    size            INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'saved' CHECK (state IN ('saved','failed')),
    error           TEXT NOT NULL DEFAULT '',
    first_seen      INTEGER NOT NULL,
    written_at      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, id)
);
CREATE INDEX notes_written ON notes(written_at);
