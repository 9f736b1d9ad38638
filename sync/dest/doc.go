// Package dest writes documents into the practice software's folder.
//
// Names come from a server and are treated as hostile: Layout.PatientDir
// and FileName turn patient data and pdf.fileName into path components
// that obey Windows' rules on every OS (SanitizeComponent), stay below the
// root and keep the whole path below it within MaxRelPath bytes, so that a
// root of ordinary length stays under MAX_PATH. The first level of a
// patient folder is never one of the names the app makes below the root
// (ReservedRootNames: the Inbox, the writer's lease), compared
// case-insensitively after those rules: such a name gets "_" after it (a
// patient named Inbox → INBOX_), so the mapping stays one fixed function of
// the patient and the template.
//
// Save streams a body into a temp file in the target folder
// (".clinicsync-<uuid>-<hex>.part"), hashing it and checking that it is a
// PDF as it goes, fsyncs it and publishes it without ever overwriting
// another document's file: the same document always maps back to the same
// name, two documents with one name get "<stem> (<first 8 of uuid>)<ext>".
// A Save that fails removes its temp file and the folders it made that are
// still empty, deepest first: never the root, a folder that was there
// before, or one another document is landing in (a folder that vanishes
// under a concurrent Save before its temp file is in it is made again).
// A crash leaves either no final file or the whole file, plus at most a
// temp file that RemoveTemps deletes at the next start (and the folder it
// was in, which may then be empty).
//
// Layout is the folder as a clinicsync.Destination (destination.go): the
// engine and the notes path write through that interface only. It is a
// clinicsync.Leaser too (lease.go): when several PCs share the folder, the
// one holding the lease file in the root writes.
//
// Errors are *clinicsync.Error values with a code, a sentence for a person
// and the retry intent.
package dest
