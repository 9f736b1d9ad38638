package askara

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// Organization is the practice the signed-in user belongs to.
type Organization struct {
	UUID     string `json:"uuid"`
	Name     string `json:"name"`
	City     string `json:"city,omitempty"`
	Country  string `json:"country,omitempty"`
	Timezone string `json:"timezone,omitempty"`
}

// Me is the signed-in user.
type Me struct {
	UUID          string         `json:"uuid"`
	Email         string         `json:"email"`
	FirstName     string         `json:"firstName"`
	LastName      string         `json:"lastName"`
	Organization  *Organization  `json:"organization,omitempty"`  // API reference (GET /me)
	Organizations []Organization `json:"organizations,omitempty"` // quickstart (POST /me)
}

// Org returns the user's organisation in either shape.
func (m Me) Org() *Organization {
	if m.Organization != nil {
		return m.Organization
	}
	if len(m.Organizations) > 0 {
		return &m.Organizations[0]
	}
	return nil
}

// String is "Jane Doe (jane@x), Cabinet X" for status lines.
func (m Me) String() string {
	name := strings.TrimSpace(m.FirstName + " " + m.LastName)
	if name == "" {
		name = m.Email
	} else if m.Email != "" {
		name += " <" + m.Email + ">"
	}
	if o := m.Org(); o != nil && o.Name != "" {
		name += ", " + o.Name
	}
	return name
}

// Me returns the signed-in user. The API reference says GET /me and the
// quickstart POST /me: GET is tried first, POST after a 405.
func (c *Client) Me(ctx context.Context) (Me, error) {
	var me Me
	parse := func(b []byte) error { return json.Unmarshal(b, &me) }
	err := c.do(ctx, call{method: http.MethodGet, url: c.endpoint("/me"), op: opAccount, parse: parse})
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusMethodNotAllowed {
		err = c.do(ctx, call{method: http.MethodPost, url: c.endpoint("/me"), body: []byte("{}"), op: opAccount, parse: parse})
	}
	return me, err
}
