package askara

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Every call, answered with each error status, says something true about
// what was asked: a 404 from /me names the account endpoint and api_url,
// never a document; only the document calls mention a document.
func TestErrorSentenceNamesWhatWasAsked(t *testing.T) {
	type op struct {
		name     string
		path     string // the path the server sees
		document bool   // a call about a document
		noun     string // what the 403, 400, 409 and 422 sentences name
		gone     string // what the 404/410 sentence says ("" : the call returns no error)
		scope    string // the scope the 403 sentence names ("" : none known)
		call     func(c *Client) error
	}
	ctx := context.Background()
	ops := []op{
		{"list documents", "/documents", true, "the document list", "Askara has no document list at {URL}/documents: check api_url", "read:documents",
			func(c *Client) error { _, err := c.ListUnsynchronized(ctx); return err }},
		{"get document", "/documents/doc-1", true, "the document", "The document no longer exists on Askara.", "read:documents",
			func(c *Client) error { _, err := c.GetDocument(ctx, "doc-1"); return err }},
		{"document status", "/documents/doc-1/status", true, "the document's status report", "The document no longer exists on Askara.", "write:document_integrations",
			func(c *Client) error { return c.SetStatus(ctx, "doc-1", clinicsync.Status{Success: true}) }},
		{"list notes", "/notes", false, "the notes list", "Askara has no notes list at {URL}/notes: check api_url", "read:notes",
			func(c *Client) error { _, err := c.ListNotes(ctx, time.Time{}); return err }},
		{"get note", "/notes/n-1", false, "the note", "The note does not exist on Askara.", "read:notes",
			func(c *Client) error { _, err := c.GetNote(ctx, "n-1"); return err }},
		{"me", "/me", false, "the account details", "Askara has no account endpoint at {URL}/me: check api_url", "profile",
			func(c *Client) error { _, err := c.Me(ctx); return err }},
		{"register webhook", "/webhooks", false, "the webhook registration", "Askara has no webhook registration endpoint at {URL}/webhooks: check api_url", "",
			func(c *Client) error {
				_, err := c.CreateWebhook(ctx, "https://relay.example/hook", WebhookEvents)
				return err
			}},
		{"remove webhook", "/webhooks/w-1", false, "the webhook removal", "", "",
			func(c *Client) error { return c.RemoveWebhook(ctx, "w-1") }},
	}
	statuses := []struct {
		status int
		body   string
		code   string
	}{
		{400, `{"title":"Bad Request","detail":"Something is off."}`, clinicsync.EInvalid},
		{403, `{"detail":"Access Denied."}`, clinicsync.EForbidden},
		{404, `{"title":"Not Found"}`, clinicsync.ENotFound},
		{409, ``, clinicsync.EInvalid},
		{410, ``, clinicsync.ENotFound},
		{422, `{"hydra:description":"url: This value is not valid."}`, clinicsync.EInvalid},
	}
	for _, o := range ops {
		for _, st := range statuses {
			t.Run(fmt.Sprint(o.name, " ", st.status), func(t *testing.T) {
				var paths []string
				ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					paths = append(paths, r.Method+" "+r.URL.Path)
					w.Header().Set("Content-Type", "application/problem+json")
					w.WriteHeader(st.status)
					fmt.Fprint(w, st.body)
				}))
				defer ts.Close()
				c, _, _ := newTestClient(t, ts.URL, nil)
				err := o.call(c)
				if len(paths) == 0 || !strings.HasSuffix(paths[0], " "+o.path) {
					t.Fatalf("requests %v, want one to %s", paths, o.path)
				}
				gone := st.status == 404 || st.status == 410
				if gone && o.gone == "" {
					if err != nil {
						t.Fatalf("a registration already gone is not an error: %v", err)
					}
					return
				}
				var e *clinicsync.Error
				if !errors.As(err, &e) {
					t.Fatalf("%T %v", err, err)
				}
				msg := e.Message
				if e.Code != st.code {
					t.Errorf("code %q, want %q (%s)", e.Code, st.code, msg)
				}
				switch {
				case gone:
					want := strings.ReplaceAll(o.gone, "{URL}", ts.URL)
					if !strings.HasPrefix(msg, want) {
						t.Errorf("%q\nwant %q", msg, want)
					}
				case st.status == 403 && o.scope != "":
					if want := "Askara refused " + o.noun + ": the sign-in lacks the " + o.scope + " scope"; !strings.HasPrefix(msg, want) {
						t.Errorf("%q\nwant %q", msg, want)
					}
				case st.status == 403:
					if want := "Askara refused " + o.noun + ":"; !strings.HasPrefix(msg, want) {
						t.Errorf("%q\nwant %q", msg, want)
					}
				case st.body == "":
					if !strings.HasPrefix(msg, "Askara rejected ") || !strings.Contains(msg, o.noun) ||
						!strings.HasSuffix(msg, fmt.Sprintf(" (HTTP %d).", st.status)) {
						t.Errorf("%q does not say Askara rejected %s (HTTP %d)", msg, o.noun, st.status)
					}
				default:
					if !strings.HasPrefix(msg, "Askara rejected ") || !strings.Contains(msg, o.noun+": ") {
						t.Errorf("%q does not say Askara rejected %s: <detail>", msg, o.noun)
					}
				}
				if mentions := strings.Contains(strings.ToLower(msg), "document"); mentions != o.document {
					t.Errorf("mentions a document: %v, for a document call: %v: %q", mentions, o.document, msg)
				}
				if strings.Contains(msg, testToken) {
					t.Errorf("the token leaked: %q", msg)
				}
			})
		}
	}
}

// When nothing answers, the sentence names the server asked; only a
// server on the internet gets advice about the service or a proxy: a
// loopback or LAN address is the simulator or a server in the clinic.
func TestUnreachableNamesTheServerAndFitsIt(t *testing.T) {
	// Nothing listens on this loopback port any more: a real refusal.
	ts := httptest.NewServer(http.NotFoundHandler())
	closed := ts.URL
	ts.Close()
	c, _, _ := newTestClient(t, closed, nil)
	_, err := c.ListUnsynchronized(context.Background())
	want := "Nothing answers at " + closed + ": is the simulator or server running?"
	if clinicsync.ErrorCode(err) != clinicsync.EUnavailable || clinicsync.ErrorMessage(err) != want {
		t.Fatalf("closed loopback port: %q (%s), want %q", clinicsync.ErrorMessage(err), clinicsync.ErrorCode(err), want)
	}

	refuse := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	}}}
	for base, want := range map[string]string{
		"https://api.askara.ai/v2":       "Askara does not answer at https://api.askara.ai: " + downTail,
		"https://staging.askara.ai:8443": "Askara does not answer at https://staging.askara.ai:8443: " + downTail,
		"http://192.168.1.20:8700":       "Nothing answers at http://192.168.1.20:8700: is the simulator or server running?",
		"http://10.0.4.2":                "Nothing answers at http://10.0.4.2: is the simulator or server running?",
		"http://172.16.9.9":              "Nothing answers at http://172.16.9.9: is the simulator or server running?",
		"http://[::1]:8700":              "Nothing answers at http://[::1]:8700: is the simulator or server running?",
		"http://[fd00::5]":               "Nothing answers at http://[fd00::5]: is the simulator or server running?",
		"http://localhost:8700":          "Nothing answers at http://localhost:8700: is the simulator or server running?",
		"http://askara-proxy:8080":       "Nothing answers at http://askara-proxy:8080: is the simulator or server running?",
		"https://relay.clinic.lan":       "Nothing answers at https://relay.clinic.lan: is the simulator or server running?",
	} {
		c, _, _ := newTestClient(t, base, func(o *Options) { o.HTTPClient = refuse })
		_, err := c.Me(context.Background())
		if got := clinicsync.ErrorMessage(err); got != want {
			t.Errorf("%s: %q, want %q", base, got, want)
		}
	}
}

const downTail = "the service may be down, or this network lets programs out only through a proxy (Settings, Proxy). Clinic Sync keeps trying."
