-- Permanent failures (not a PDF, empty, no link) are re-checked
-- automatically: at once when what the platform's list says about the
-- document changes, otherwise hourly for a day, then daily.
ALTER TABLE documents ADD COLUMN listed_fingerprint TEXT NOT NULL DEFAULT '';   -- file name, link path and pdf fields as last listed; '' = not yet
ALTER TABLE documents ADD COLUMN listed_updated_at  TEXT NOT NULL DEFAULT '';   -- updatedAt as last listed; '' = not yet, or our report may have moved it
ALTER TABLE documents ADD COLUMN recheck_at         INTEGER NOT NULL DEFAULT 0; -- unix ms of the next re-check of a permanent failure; 0 = none
ALTER TABLE documents ADD COLUMN failed_since       INTEGER NOT NULL DEFAULT 0; -- unix ms the current permanent failure began; 0 = none

-- Permanent failures from before: re-checked an hour after their last attempt.
UPDATE documents SET failed_since = updated_at, recheck_at = updated_at + 3600000
    WHERE state = 'failed' AND retryable = 0;
