package service

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// Bundle limits: enough to see what happened, small enough to e-mail.
const (
	bundleLogRows  = 20000
	bundleDocRows  = 20000
	bundleLogBytes = 2 << 20
)

// BundleOptions change what a support bundle holds.
type BundleOptions struct {
	// RedactNames replaces every patient's name with a stable token
	// (name-1a2b3c4d) in every file: activity lines, the document list,
	// paths (redact.go).
	RedactNames bool
}

// BundleFileName is a support bundle's file name, made at t: the window's
// Export button and `clinicsync support-bundle` name it alike.
func BundleFileName(t time.Time) string {
	return "clinicsync-support-" + t.Format("20060102-150405") + ".zip"
}

// ExportBundle writes a support bundle (zip) to w: versions, status, the
// configuration without its client secret, the system (OS, free disk, a
// write test of the destination, the clock against Askara's), the
// activity log, the document list and the tail of the debug log. It holds
// no token or secret and no note text.
func (s *Service) ExportBundle(ctx context.Context, w io.Writer) error {
	return s.ExportBundleWith(ctx, w, BundleOptions{})
}

// ExportBundleWith is ExportBundle with options (clinicsync support-bundle).
func (s *Service) ExportBundleWith(ctx context.Context, w io.Writer, o BundleOptions) error {
	var names *nameRedactor
	if o.RedactNames {
		var err error
		if names, err = s.nameRedactor(ctx); err != nil {
			return err
		}
	}
	z := zip.NewWriter(w)
	add := func(name string, body []byte) error {
		f, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now()})
		if err != nil {
			return err
		}
		_, err = f.Write(body)
		return err
	}
	st := s.Status()
	files := []struct {
		name string
		make func() ([]byte, error)
	}{
		{"README.txt", func() ([]byte, error) {
			return []byte("Clinic Sync support bundle.\n" +
				"status.json: state, counts, account; problems.txt: the open problems that stop documents;\n" +
				"config.toml: settings (the client secret is left out);\n" +
				"activity.log: the activity log, newest first; documents.csv: every document's state and reason;\n" +
				"network.txt: the proxy in effect for Askara and where it came from;\n" +
				"system.txt: the operating system, free disk space, a write test of the documents folder, the clock against Askara's,\n" +
				"and the settings the IT administrator set; version.txt: the versions of Clinic Sync and of what it is built with;\n" +
				"debug.log: the end of the debug log, if one is kept. No token, secret, password or note text is included.\n"), nil
		}},
		{"version.txt", func() ([]byte, error) { return bundleVersions(st.Version), nil }},
		{"system.txt", func() ([]byte, error) { return s.bundleSystem(ctx), nil }},
		{"status.json", func() ([]byte, error) { return json.MarshalIndent(st, "", "  ") }},
		{"problems.txt", func() ([]byte, error) { return bundleProblems(st.Problems), nil }},
		{"config.toml", s.bundleConfig},
		{"network.txt", s.bundleNetwork},
		{"activity.log", func() ([]byte, error) { return s.bundleActivity(ctx) }},
		{"documents.csv", func() ([]byte, error) { return s.bundleDocuments(ctx) }},
		{"debug.log", s.bundleDebugLog},
	}
	for _, f := range files {
		body, err := f.make()
		if err != nil {
			body = fmt.Appendf(nil, "could not be collected: %v\n", err)
		}
		if body == nil {
			continue
		}
		body = redact(body)
		if names != nil && f.name != "README.txt" {
			body = names.replace(body)
		}
		if err := add(f.name, body); err != nil {
			return err
		}
	}
	return z.Close()
}

// bundleProblems says the open problems, one paragraph each, in English.
func bundleProblems(ps []engine.Problem) []byte {
	if len(ps) == 0 {
		return []byte("No open problem.\n")
	}
	var buf bytes.Buffer
	for _, p := range ps {
		fmt.Fprintf(&buf, "%s since %s (%s)\n  %s\n  %s\n", p.Title, p.Since.UTC().Format(time.RFC3339), p.Kind, p.Cause, p.Fix)
	}
	return buf.Bytes()
}

func (s *Service) bundleConfig() ([]byte, error) {
	c := s.Settings()
	if c.Askara.ClientSecret != "" {
		c.Askara.ClientSecret = "(set; not included)"
	}
	var buf bytes.Buffer
	err := toml.NewEncoder(&buf).Encode(c)
	return buf.Bytes(), err
}

// bundleVersions are Clinic Sync's version and those of Go and of the
// modules that matter to support (the database, the window).
func bundleVersions(version string) []byte {
	b := fmt.Appendf(nil, "clinicsync %s\n%s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			switch m.Path {
			case "modernc.org/sqlite", "fyne.io/fyne/v2", "fyne.io/systray", "golang.org/x/sys", "github.com/zalando/go-keyring":
				b = fmt.Appendf(b, "%s %s\n", m.Path, m.Version)
			}
		}
	}
	return b
}

// bundleSystem is what support asks first: the operating system, free
// disk space where the database and the documents are, whether the
// documents folder can be written now (dest.CheckRoot: a file created,
// written and removed), how far this PC's clock is from Askara's (one
// request to the API, for its Date header), and what the administrator set.
func (s *Service) bundleSystem(ctx context.Context) []byte {
	c := s.Settings()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "Operating system: %s (%s/%s)\n", osVersion(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&buf, "Data folder %s: %s\n", s.p.DataDir, freeSpace(s.p.DataDir))
	if root := c.Destination.Root; root == "" {
		buf.WriteString("Documents folder: not set\n")
	} else {
		fmt.Fprintf(&buf, "Documents folder %s: %s\n", root, freeSpace(root))
		if err := dest.CheckRoot(root); err != nil {
			fmt.Fprintf(&buf, "Write test of the documents folder: failed: %s\n", clinicsync.ErrorMessage(err))
		} else {
			buf.WriteString("Write test of the documents folder: ok (a file created, written and removed)\n")
		}
	}
	buf.WriteString(s.clockLine(ctx, c.Askara.APIURL) + "\n")
	pol := s.p.Policy
	if pol.Empty() {
		buf.WriteString("Settings set by the IT administrator: none\n")
	} else {
		buf.WriteString("Settings set by the IT administrator:\n")
		for _, k := range config.Keys() {
			if w := pol.Where(k); w != "" {
				lock := ""
				if pol.Locked(k) {
					lock = ", locked"
				}
				fmt.Fprintf(&buf, "  %s (%s%s)\n", k, w, lock)
			}
		}
	}
	return buf.Bytes()
}

// freeSpace says how much space is free on path's volume.
func freeSpace(path string) string {
	n, err := diskFree(path)
	if err != nil {
		return "free space unknown (" + err.Error() + ")"
	}
	return fmt.Sprintf("%.1f GB free", float64(n)/1e9)
}

// clockLine asks the API once and says how far this PC's clock is from
// the Date header of its answer (whatever the answer: 401 without a token).
func (s *Service) clockLine(ctx context.Context, api string) string {
	if s.p.Net == nil {
		return "Clock: not measured (no network client)"
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api, nil)
	if err != nil {
		return fmt.Sprintf("Clock: not measured (%v)", err)
	}
	start := time.Now()
	resp, err := s.p.Net.HTTP().Do(req)
	if err != nil { // the API's sentences for a network failure (proxy, DNS, refused)
		return fmt.Sprintf("Askara at %s: not reachable (%s); clock not measured", api,
			clinicsync.ErrorMessage(askara.NetworkError(ctx, err, req.URL)))
	}
	took := time.Since(start)
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	off, _, ok := s.p.Net.ClockOffset()
	if !ok {
		return fmt.Sprintf("Askara at %s answered HTTP %d in %d ms, without a Date header: clock not measured", api, resp.StatusCode, took.Milliseconds())
	}
	how := "the same as"
	switch off = off.Round(time.Second); {
	case off > 0:
		how = fmt.Sprintf("%s ahead of", off)
	case off < 0:
		how = fmt.Sprintf("%s behind", -off)
	}
	return fmt.Sprintf("Askara at %s answered HTTP %d in %d ms; this PC's clock is %s Askara's (to the second)",
		api, resp.StatusCode, took.Milliseconds(), how)
}

// bundleNetwork says how Askara is reached: the proxy for the API and the
// token endpoint and where each came from, ca_file, and whether a proxy
// sign-in is kept (never the sign-in itself).
func (s *Service) bundleNetwork() ([]byte, error) {
	c := s.Settings()
	var buf bytes.Buffer
	if s.p.Net == nil {
		buf.WriteString("The default HTTP client is in use (no network settings applied).\n")
		return buf.Bytes(), nil
	}
	fmt.Fprintf(&buf, "API %s: %s\n", c.Askara.APIURL, s.p.Net.Route(c.Askara.APIURL))
	fmt.Fprintf(&buf, "Token endpoint %s: %s\n", c.Askara.TokenURL, s.p.Net.Route(c.Askara.TokenURL))
	fmt.Fprintf(&buf, "[network] proxy: %q\n", c.Network.Proxy)
	fmt.Fprintf(&buf, "[network] ca_file: %q\n", c.Network.CAFile)
	fmt.Fprintf(&buf, "Proxy sign-in kept in the keychain: %v\n", s.ProxySignedIn())
	return buf.Bytes(), nil
}

func (s *Service) bundleActivity(ctx context.Context) ([]byte, error) {
	var buf bytes.Buffer
	q := engine.LogQuery{Limit: 1000}
	for n := 0; n < bundleLogRows; {
		rows, err := s.Activity(ctx, q)
		if err != nil {
			return buf.Bytes(), err
		}
		for _, r := range rows {
			fmt.Fprintf(&buf, "%s %-5s %s %s\n", r.At.UTC().Format(time.RFC3339), r.Level, r.Item, r.Message)
		}
		n += len(rows)
		if len(rows) < q.Limit {
			break
		}
		q.BeforeID = rows[len(rows)-1].ID
	}
	return buf.Bytes(), nil
}

func (s *Service) bundleDocuments(ctx context.Context) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"uuid", "state", "attempts", "error_code", "reason", "path", "updated_at"})
	for off := 0; off < bundleDocRows; off += 500 {
		docs, err := s.Documents(ctx, engine.DocumentFilter{Limit: 500, Offset: off})
		if err != nil {
			return buf.Bytes(), err
		}
		for _, d := range docs {
			w.Write([]string{d.UUID, string(d.State), strconv.Itoa(d.Attempts), d.ErrorCode, d.Reason, d.Path,
				d.UpdatedAt.UTC().Format(time.RFC3339)})
		}
		if len(docs) < 500 {
			break
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// bundleDebugLog is the last 2 MiB of the debug log (nil when there is none).
func (s *Service) bundleDebugLog() ([]byte, error) {
	if s.p.LogFile == "" {
		return nil, nil
	}
	f, err := os.Open(s.p.LogFile)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > bundleLogBytes {
		f.Seek(fi.Size()-bundleLogBytes, io.SeekStart)
	}
	return io.ReadAll(io.LimitReader(f, bundleLogBytes))
}

// secretish matches what a token or secret looks like where it could slip
// into text: bearer headers, token fields, signed-URL signatures. The
// debug log never writes them; this is a second line of defence.
var secretish = regexp.MustCompile(`(?i)(bearer\s+|(?:access_token|refresh_token|client_secret|id_token|code_verifier|signature|sig|token)["']?\s*[=:]\s*["']?)[A-Za-z0-9._~+/=-]{6,}`)

func redact(b []byte) []byte {
	return secretish.ReplaceAll(b, []byte("${1}[redacted]"))
}
