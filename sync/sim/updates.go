package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"strings"

	"aead.dev/minisign"

	"github.com/clinicsync/clinicsync/sync/update"
)

// The simulator's update server, for the demo to show an offered update
// and for tests: GET UpdatePath serves a manifest, its "url" the file.
//
// DEMO KEY, NOT A RELEASE KEY: its secret half is here in the source, so
// anyone can sign with it. Only the demo trusts DemoUpdateKey; real builds
// trust update.PublicKey, set by the release process.
const (
	DemoUpdateKey       = "RWTi20PBv5PM/e0tbk1Mb7GcEVbkn6TIi+IzGMGXzGaW2/f8VMgKCTHY"
	demoUpdateSecretKey = "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA4ttDwb+TzP1cs7HSYO9oFeE/tzKYWj3kJV+iQ1VyFATe9sBUJvREy+0tbk1Mb7GcEVbkn6TIi+IzGMGXzGaW2/f8VMgKCTHYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	// DemoUpdateVersion is the version the simulator offers by default.
	DemoUpdateVersion = "9.0.0"
	// UpdatePath is the manifest's path ([updates] url = <sim>/updates/manifest.json).
	UpdatePath = "/updates/manifest.json"
)

// Update is the release the simulator's update server offers: the
// manifest as served and the bytes its download URL serves (tests make
// them disagree).
type Update struct {
	Manifest update.Manifest
	File     []byte
}

// DemoUpdateSigner is the demo key's secret half, for tests that sign
// their own releases.
func DemoUpdateSigner() minisign.PrivateKey {
	var k minisign.PrivateKey
	if err := k.UnmarshalText([]byte(demoUpdateSecretKey)); err != nil {
		panic("sim: demo update key: " + err.Error())
	}
	return k
}

// DemoUpdate is a release of version signed with the demo key: a small
// file that is no installer (on Windows the demo would run it: it is a
// text file named .msi that msiexec refuses).
func DemoUpdate(version string) Update {
	file := []byte(fmt.Sprintf("Clinic Sync %s: the simulator's demo update; not an installer.\n", version))
	sum := sha256.Sum256(file)
	return Update{File: file, Manifest: update.Manifest{Version: version, URL: "ClinicSync-" + version + ".msi",
		Size: int64(len(file)), SHA256: hex.EncodeToString(sum[:]), Signature: update.Sign(DemoUpdateSigner(), file, version)}}
}

// SetUpdate replaces what the update server offers.
func (s *Server) SetUpdate(u Update) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update = &u
}

// serveUpdate answers /updates/...: the manifest, or the file its url names.
func (s *Server) serveUpdate(w http.ResponseWriter, r *http.Request, p string) {
	s.mu.Lock()
	if s.update == nil {
		u := DemoUpdate(DemoUpdateVersion)
		s.update = &u
	}
	u := *s.update
	s.mu.Unlock()
	switch {
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", "GET")
		writeProblem(w, http.StatusMethodNotAllowed, "Method not allowed.")
	case p == UpdatePath:
		writeJSON(w, http.StatusOK, "application/json", u.Manifest)
	case path.Base(p) == path.Base(u.Manifest.URL) && strings.HasPrefix(p, "/updates/"):
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(u.File)
	default:
		writeProblem(w, http.StatusNotFound, "Not found.")
	}
}
