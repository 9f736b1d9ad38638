package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Activity levels.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

var levelRank = map[string]int{LevelDebug: 0, LevelInfo: 1, LevelWarn: 2, LevelError: 3}

// ValidLevel reports whether l is a known activity level.
func ValidLevel(l string) bool { _, ok := levelRank[l]; return ok }

// Entry is one line of the activity log.
type Entry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Level   string    `json:"level"`
	Item    string    `json:"item,omitempty"`
	Message string    `json:"message"` // in English
	// Text is the line as a key and arguments, to show it in the reader's
	// language (Render); zero for lines written as plain text, and for
	// those stored before keys were.
	Text clinicsync.Text `json:"text,omitzero"`
}

// Render is the line in a language: its Text rendered with tr (see
// clinicsync.Text.Render), or its message when it has none.
func (e Entry) Render(tr func(string) string) string {
	if e.Text.Key == "" {
		return e.Message
	}
	return clinicsync.CleanText(e.Text.Render(tr))
}

// Log appends one entry to the activity log and returns its id. Control
// characters in the message and item are escaped (clinicsync.CleanText): a
// patient name from the platform cannot split a line or forge another.
func (s *Store) Log(ctx context.Context, level, item, message string) (int64, error) {
	return s.conn().insertLog(ctx, level, item, clinicsync.CleanText(message), clinicsync.Text{})
}

// LogText appends one entry written as a key and arguments (see package
// activity) and returns its id. Its message is the English rendering.
// Control characters in the item and in every argument are escaped, as
// Log escapes them in a message.
func (s *Store) LogText(ctx context.Context, level, item string, t clinicsync.Text) (int64, error) {
	return s.conn().logText(ctx, level, item, t)
}

// LogText is Store.LogText in the batch.
func (t *Tx) LogText(ctx context.Context, level, item string, text clinicsync.Text) (int64, error) {
	return t.c.logText(ctx, level, item, text)
}

func (c conn) logText(ctx context.Context, level, item string, t clinicsync.Text) (int64, error) {
	t = t.Clean()
	return c.insertLog(ctx, level, item, clinicsync.CleanText(t.String()), t)
}

func (c conn) insertLog(ctx context.Context, level, item, message string, t clinicsync.Text) (int64, error) {
	if !ValidLevel(level) {
		return 0, fmt.Errorf("unknown activity level %q", level)
	}
	args := ""
	if len(t.Args) > 0 {
		b, err := json.Marshal(t.Args)
		if err != nil {
			return 0, fmt.Errorf("activity arguments: %w", err)
		}
		args = string(b)
	}
	res, err := c.exec(ctx, `INSERT INTO activity(at, level, item, message, code, args) VALUES (?, ?, ?, ?, ?, ?)`,
		c.s.now().UnixMilli(), level, clinicsync.CleanText(item), message, t.Key, args)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// ActivityQuery pages the activity log, newest first, by id (keyset paging,
// so page N costs the same as page 1 however long the log is).
type ActivityQuery struct {
	MinLevel string // "" = all; "warn" = warn and error
	Item     string // only this item
	Search   string // substring of the message or item
	BeforeID int64  // 0 = from the newest
	Limit    int    // 0 = 100
}

// Activity returns one page of the log, newest first.
func (s *Store) Activity(ctx context.Context, q ActivityQuery) ([]Entry, error) {
	var where []string
	var args []any
	if q.MinLevel != "" {
		r, ok := levelRank[q.MinLevel]
		if !ok {
			return nil, fmt.Errorf("unknown activity level %q", q.MinLevel)
		}
		var lv []string
		for name, rank := range levelRank {
			if rank >= r {
				lv = append(lv, "'"+name+"'")
			}
		}
		where = append(where, "level IN ("+strings.Join(lv, ",")+")")
	}
	if q.Item != "" {
		where = append(where, "item = ?")
		args = append(args, q.Item)
	}
	if q.Search != "" {
		like := "%" + escapeLike(q.Search) + "%"
		where = append(where, `(message LIKE ? ESCAPE '\' OR item LIKE ? ESCAPE '\')`)
		args = append(args, like, like)
	}
	if q.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, q.BeforeID)
	}
	sqlq := `SELECT id, at, level, item, message, code, args FROM activity`
	if len(where) > 0 {
		sqlq += " WHERE " + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	sqlq += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var at int64
		var code, args string
		if err := rows.Scan(&e.ID, &at, &e.Level, &e.Item, &e.Message, &code, &args); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		if code != "" {
			// Arguments that do not read back (a newer version's kind)
			// leave the line to its stored English.
			if a, err := clinicsync.DecodeTextArgs([]byte(args)); err == nil {
				e.Text = clinicsync.Text{Key: code, Args: a}
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
