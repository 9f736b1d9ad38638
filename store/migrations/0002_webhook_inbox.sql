-- Webhook inbox: each delivery the relay accepted, committed before the
-- 200 goes out, processed afterwards (and replayed on start if a crash came
-- between). The body is dropped once processed (it can hold patient data);
-- its hash stays for deduplication.
CREATE TABLE webhook_inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    platform     TEXT NOT NULL,
    received_at  INTEGER NOT NULL,            -- unix ms
    delivery_id  TEXT NOT NULL DEFAULT '',    -- the sender's id when signed (webhook-id), else ''
    body_sha256  TEXT NOT NULL,
    headers      TEXT NOT NULL DEFAULT '{}',  -- JSON: the headers that matter (never Authorization)
    body         BLOB,
    verified     TEXT NOT NULL DEFAULT '',    -- signature scheme checked, or 'unverified'
    state        TEXT NOT NULL DEFAULT 'received'
                 CHECK (state IN ('received','processed','ignored','deferred','failed')),
    processed_at INTEGER NOT NULL DEFAULT 0,
    outcome      TEXT NOT NULL DEFAULT ''     -- what processing did, for the activity log and support
);
CREATE UNIQUE INDEX webhook_inbox_delivery ON webhook_inbox(platform, delivery_id) WHERE delivery_id <> '';
CREATE UNIQUE INDEX webhook_inbox_body ON webhook_inbox(platform, body_sha256);
CREATE INDEX webhook_inbox_state ON webhook_inbox(state, id);

-- Events already handled (Askara retries a delivery after 5, 10 and 20 s:
-- the same event arrives again and must not be processed twice).
CREATE TABLE webhook_events (
    platform   TEXT NOT NULL,
    event_key  TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (platform, event_key)
);
