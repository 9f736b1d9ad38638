package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Delivery is one webhook delivery as the relay received it.
type Delivery struct {
	ID         int64
	Platform   string
	ReceivedAt time.Time
	DeliveryID string            // the sender's delivery id when signed, else ""
	Headers    map[string]string // the headers that matter
	Body       []byte            // nil once processed
	BodySHA256 string
	Verified   string // signature scheme, or "unverified"
	State      string // received, processed, ignored, deferred, failed
	Outcome    string
}

// Inbox states.
const (
	InboxReceived  = "received"
	InboxProcessed = "processed"
	InboxIgnored   = "ignored"
	InboxDeferred  = "deferred" // kept (with its body) for a pipeline not yet running: notes
	InboxFailed    = "failed"
)

// InboxAdd commits deliveries in one durable transaction (group commit:
// one fsync for a batch) and returns, for each, its inbox id and whether it
// was a duplicate (same sender delivery id, or same body, already stored).
// Only when InboxAdd returns may the relay answer 200.
func (s *Store) InboxAdd(ctx context.Context, ds []*Delivery) (dup []bool, err error) {
	dup = make([]bool, len(ds))
	tx, err := s.begin(s.durable, ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	for i, d := range ds {
		if d.BodySHA256 == "" {
			sum := sha256.Sum256(d.Body)
			d.BodySHA256 = hex.EncodeToString(sum[:])
		}
		if d.ReceivedAt.IsZero() {
			d.ReceivedAt = s.now()
		}
		h, _ := json.Marshal(d.Headers)
		res, err := tx.ExecContext(ctx, `INSERT INTO webhook_inbox(platform, received_at, delivery_id, body_sha256, headers, body, verified)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			d.Platform, ms(d.ReceivedAt), d.DeliveryID, d.BodySHA256, string(h), d.Body, d.Verified)
		if err != nil {
			return nil, fmt.Errorf("inbox insert: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			dup[i] = true
			continue
		}
		d.ID, _ = res.LastInsertId()
		d.State = InboxReceived
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("inbox commit: %w", err)
	}
	return dup, nil
}

const inboxColumns = `id, platform, received_at, delivery_id, body_sha256, headers, body, verified, state, outcome`

func scanDelivery(sc interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var at int64
	var h string
	err := sc.Scan(&d.ID, &d.Platform, &at, &d.DeliveryID, &d.BodySHA256, &h, &d.Body, &d.Verified, &d.State, &d.Outcome)
	d.ReceivedAt = fromMS(at)
	json.Unmarshal([]byte(h), &d.Headers)
	return d, err
}

// InboxPending returns the deliveries not processed yet, oldest first:
// after a crash they are processed again on start.
func (s *Store) InboxPending(ctx context.Context, limit int) ([]Delivery, error) {
	return s.InboxPendingFor(ctx, "", limit)
}

// InboxPendingFor is InboxPending for one platform ("" for all): the relay
// takes each platform's deliveries in its own lane.
func (s *Store) InboxPendingFor(ctx context.Context, platform string, limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ` + inboxColumns + ` FROM webhook_inbox WHERE state = ? ORDER BY id LIMIT ?`
	args := []any{InboxReceived, limit}
	if platform != "" {
		q = `SELECT ` + inboxColumns + ` FROM webhook_inbox WHERE state = ? AND platform = ? ORDER BY id LIMIT ?`
		args = []any{InboxReceived, platform, limit}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// InboxGet returns one delivery.
func (s *Store) InboxGet(ctx context.Context, id int64) (Delivery, error) {
	return scanDelivery(s.db.QueryRowContext(ctx, `SELECT `+inboxColumns+` FROM webhook_inbox WHERE id = ?`, id))
}

// InboxDone records what processing did. The body is dropped unless the
// delivery is deferred (kept for a pipeline that will read it later).
func (s *Store) InboxDone(ctx context.Context, id int64, state, outcome string) error {
	q := `UPDATE webhook_inbox SET state = ?, outcome = ?, processed_at = ?, body = NULL WHERE id = ?`
	if state == InboxDeferred {
		q = `UPDATE webhook_inbox SET state = ?, outcome = ?, processed_at = ? WHERE id = ?`
	}
	_, err := s.write(ctx, q, state, outcome, s.now().UnixMilli(), id)
	return err
}

// EventFirstSeen records an event key for the inbox delivery that carries
// it and reports whether the event is new. The key is a guard against the
// same event arriving in another delivery; the delivery that recorded it
// is never its own duplicate: a delivery processed again (a crash came
// before its work was done and its inbox row closed) gets true again, and
// does its work again, which is idempotent.
func (s *Store) EventFirstSeen(ctx context.Context, platform, key string, inboxID int64) (bool, error) {
	res, err := s.write(ctx, `INSERT INTO webhook_events(platform, event_key, first_seen, inbox_id) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, platform, key, s.now().UnixMilli(), inboxID)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, err
	}
	var owner int64
	if err := s.db.QueryRowContext(ctx, `SELECT inbox_id FROM webhook_events WHERE platform = ? AND event_key = ?`,
		platform, key).Scan(&owner); err != nil {
		return false, err
	}
	return owner != 0 && owner == inboxID, nil
}

// InboxStats is the relay's record for the window: counts per state and
// the last delivery received.
type InboxStats struct {
	Counts       map[string]int
	LastReceived time.Time
}

// InboxStats counts deliveries per state.
func (s *Store) InboxStats(ctx context.Context) (InboxStats, error) {
	st := InboxStats{Counts: map[string]int{}}
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*), MAX(received_at) FROM webhook_inbox GROUP BY state`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		var last sql.NullInt64
		if err := rows.Scan(&state, &n, &last); err != nil {
			return st, err
		}
		st.Counts[state] = n
		if t := fromMS(last.Int64); t.After(st.LastReceived) {
			st.LastReceived = t
		}
	}
	return st, rows.Err()
}

// headerAllowed lists what the inbox keeps of a request's headers.
var headerAllowed = []string{"content-type", "user-agent", "webhook-id", "webhook-timestamp",
	"x-soapnoteapi-timestamp", "x-nabla-webhook-timestamp", "x-request-id", "x-forwarded-for"}

// KeepHeader reports whether the inbox stores a header (never
// Authorization, cookies or signatures, which are useless once checked).
func KeepHeader(name string) bool {
	name = strings.ToLower(name)
	for _, h := range headerAllowed {
		if h == name {
			return true
		}
	}
	return false
}

// InboxBodyFor returns the body hash stored for a sender's delivery id
// ("" if none): a repeated id with another body is a replay, not a retry.
func (s *Store) InboxBodyFor(ctx context.Context, platform, deliveryID string) (string, error) {
	var sha string
	err := s.db.QueryRowContext(ctx, `SELECT body_sha256 FROM webhook_inbox WHERE platform = ? AND delivery_id = ?`,
		platform, deliveryID).Scan(&sha)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return sha, err
}

// InboxRequeueDeferred puts the deferred deliveries of platforms back in
// line (notes were switched on: the note events kept meanwhile are
// processed now). It returns how many.
func (s *Store) InboxRequeueDeferred(ctx context.Context, platforms []string) (int64, error) {
	var total int64
	for _, p := range platforms {
		res, err := s.write(ctx, `UPDATE webhook_inbox SET state = ?, outcome = '' WHERE state = ? AND platform = ? AND body IS NOT NULL`,
			InboxReceived, InboxDeferred, p)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
