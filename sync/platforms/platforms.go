// Package platforms is the table of the webhook platforms Clinic Sync
// knows: for each, the name it goes by everywhere (the relay's path
// /webhooks/<name>, the configuration's relay.platforms, a note's Source,
// the inbox's platform column), the name people read, and whether it
// carries clinical notes. It imports nothing of the project, so the
// configuration, the notes and the engine read it without depending on the
// relay.
//
// The relay attaches the rest of each platform (its signature schemes,
// envelope check and processing) in a file of its own,
// sync/relay/platform_<name>.go; a test there checks that the relay has
// exactly the platforms of this table.
package platforms

import "slices"

// Platform is one webhook platform.
type Platform struct {
	Name    string // "soapnoteapi": lower case, the same in paths, settings and the database
	Display string // "SOAPNoteAPI": the product's own spelling, for people
	Notes   bool   // it sends clinical notes (kept while notes are off in Settings)
}

// all is the table, in the order the Settings list and messages show it.
var all = []Platform{
	{Name: "askara", Display: "Askara", Notes: true},
	{Name: "nabla", Display: "Nabla", Notes: true},
	{Name: "soapnoteapi", Display: "SOAPNoteAPI", Notes: true},
	{Name: "azodha", Display: "Azodha"},
}

// All returns every platform, in order.
func All() []Platform { return slices.Clone(all) }

// Names returns every platform's name, in order.
func Names() []string {
	out := make([]string, len(all))
	for i, p := range all {
		out[i] = p.Name
	}
	return out
}

// WithNotes returns the names of the platforms that carry notes, in order.
func WithNotes() []string {
	var out []string
	for _, p := range all {
		if p.Notes {
			out = append(out, p.Name)
		}
	}
	return out
}

// Lookup returns the platform of a name.
func Lookup(name string) (Platform, bool) {
	i := slices.IndexFunc(all, func(p Platform) bool { return p.Name == name })
	if i < 0 {
		return Platform{}, false
	}
	return all[i], true
}

// DisplayName is the name people read for a platform's name, or name
// itself when no platform has it.
func DisplayName(name string) string {
	if p, ok := Lookup(name); ok {
		return p.Display
	}
	return name
}
