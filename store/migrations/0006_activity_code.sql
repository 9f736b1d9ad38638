-- Activity lines as a message key and its arguments, put in the reader's
-- language when shown (a line written while the window spoke English
-- reads in French once it does). code is the key (the English sentence
-- with fmt verbs, see package activity); args its arguments as a JSON
-- array (strings, integers, and {"key","args"} objects for translated
-- parts). message keeps the English rendering, for search, `clinicsync
-- log --json` and support bundles. Rows from before have no code and show
-- their message. (activity is append-only: its trigger refuses updates,
-- not new columns.)
ALTER TABLE activity ADD COLUMN code TEXT NOT NULL DEFAULT '';
ALTER TABLE activity ADD COLUMN args TEXT NOT NULL DEFAULT '';

-- A document's failure reason the same way: last_error keeps the English,
-- last_error_text its key and arguments ({"key","args"} JSON). '' when the
-- sentence has no arguments (it is its own key) or is from before: then
-- last_error is shown, translated when a translation has that sentence.
ALTER TABLE documents ADD COLUMN last_error_text TEXT NOT NULL DEFAULT '';
