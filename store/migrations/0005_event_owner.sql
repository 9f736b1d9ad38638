-- The inbox delivery that first recorded an event. A delivery processed
-- again after a crash (its row still 'received') is not a duplicate of
-- itself: its events are done again. Rows from before this column have
-- no owner (0) and stay duplicates for every delivery.
ALTER TABLE webhook_events ADD COLUMN inbox_id INTEGER NOT NULL DEFAULT 0;
