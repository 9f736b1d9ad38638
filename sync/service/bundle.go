package service

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/clinicsync/clinicsync/sync/engine"
)

// Bundle limits: enough to see what happened, small enough to e-mail.
const (
	bundleLogRows  = 20000
	bundleDocRows  = 20000
	bundleLogBytes = 2 << 20
)

// ExportBundle writes a support bundle (zip) to w: version, status, the
// configuration without its client secret, the activity log, the document
// list and the tail of the debug log. It holds no token or secret and no
// note text.
func (s *Service) ExportBundle(ctx context.Context, w io.Writer) error {
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
				"debug.log: the end of the debug log, if one is kept. No token, secret, password or note text is included.\n"), nil
		}},
		{"version.txt", func() ([]byte, error) {
			return fmt.Appendf(nil, "clinicsync %s\n%s %s/%s\n", st.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH), nil
		}},
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
		if err := add(f.name, redact(body)); err != nil {
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
