package main

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Front ends read state through the engine's queries and view types (one
// status model), never through the store: in the window (app) and the
// command line, only the wiring imports store: env.go, to open the
// database it hands to the engine and the relay, and datadir.go, to move
// the database file out of the roaming profile (store.Move).
func TestFrontEndsDoNotImportStore(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	app, _ := filepath.Glob("../../app/*.go")
	files = append(files, app...)
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "env.go" || f == "datadir.go" {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "github.com/clinicsync/clinicsync/store" {
				t.Errorf("%s imports store: read through the engine (sync/engine/queries.go) instead", f)
			}
		}
	}
	if len(app) == 0 {
		t.Fatal("found no file of package app")
	}
}
