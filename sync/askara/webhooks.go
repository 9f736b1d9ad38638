package askara

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/clinicsync/clinicsync"
)

// Webhook is a webhook registration on Askara.
type Webhook struct {
	ID     string   `json:"-"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Active bool     `json:"active"`
}

// WebhookEvents are the events the relay handles.
var WebhookEvents = []string{"new_document", "document_synchronize", "new_note"}

// CreateWebhook registers url for events (POST /webhooks, documented).
// The answer's identifier is read from "uuid", "id" or a Hydra "@id".
func (c *Client) CreateWebhook(ctx context.Context, hookURL string, events []string) (Webhook, error) {
	body, err := json.Marshal(map[string]any{"url": hookURL, "events": events, "active": true})
	if err != nil {
		return Webhook{}, err
	}
	var w Webhook
	parse := func(b []byte) error {
		var raw struct {
			UUID   string   `json:"uuid"`
			ID     any      `json:"id"`
			IRI    string   `json:"@id"`
			URL    string   `json:"url"`
			Events []string `json:"events"`
			Active *bool    `json:"active"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		w = Webhook{URL: raw.URL, Events: raw.Events, Active: raw.Active == nil || *raw.Active}
		switch id := raw.ID.(type) {
		case string:
			w.ID = id
		case float64:
			w.ID = strings.TrimSuffix(strings.TrimRight(jsonNumber(id), "0"), ".")
		}
		if raw.UUID != "" {
			w.ID = raw.UUID
		}
		if w.ID == "" && raw.IRI != "" {
			w.ID = path.Base(raw.IRI)
		}
		if w.ID == "" {
			return errors.New("the registration has no identifier")
		}
		return nil
	}
	err = c.do(ctx, call{method: http.MethodPost, url: c.endpoint("/webhooks"), body: body, op: opWebhookCreate, parse: parse})
	return w, err
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// RemoveWebhook ends a registration: DELETE /webhooks/{id}, or, where the
// API does not allow DELETE (its list and delete endpoints are not
// documented), PATCH {"active": false}. A registration already gone is not
// an error.
func (c *Client) RemoveWebhook(ctx context.Context, id string) error {
	if id == "" || id == "." || id == ".." {
		return clinicsync.Errorf(clinicsync.EInvalid, "The webhook registration has no usable identifier.")
	}
	u := c.endpoint("/webhooks/" + url.PathEscape(id))
	err := c.do(ctx, call{method: http.MethodDelete, url: u, op: opWebhook})
	var he *HTTPError
	if errors.As(err, &he) && (he.Status == http.StatusMethodNotAllowed || he.Status == http.StatusNotImplemented) {
		err = c.do(ctx, call{method: http.MethodPatch, url: u, body: []byte(`{"active":false}`), op: opWebhook})
	}
	if clinicsync.ErrorCode(err) == clinicsync.ENotFound {
		return nil
	}
	return err
}
