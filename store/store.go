// Package store keeps Clinic Sync's state in one SQLite file (modernc.org/sqlite,
// pure Go): documents and their states, the append-only activity log, and sync
// cursors. Migrations are embedded, numbered, and each runs once in its own
// transaction. No credential is ever written here.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clinicsync/clinicsync"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is the SQLite-backed state of one Clinic Sync installation.
type Store struct {
	db *sql.DB
	// durable is a second handle on the same file with synchronous=FULL:
	// the webhook inbox commits through it, so an acknowledged delivery
	// survives a power cut, not only a crash of the process.
	durable *sql.DB
	Now     func() time.Time // the clock; tests replace it
	// stmts holds the prepared statements of the frequent writes and
	// reads (a document's steps, its activity lines), by their text:
	// the driver would otherwise parse each statement again every time.
	stmts     sync.Map
	preparing sync.Map // statements being prepared in the background
	// bg tracks those background preparations: Close ends them (bgCancel)
	// and waits for them, so that none opens a connection, and with it
	// the database's files, once the store is closed.
	bgMu     sync.Mutex
	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc
	closed   bool
	// wlock lets one write transaction of this process run at a time.
	// SQLite has one writer anyway: the others would wait in its busy
	// handler, which sleeps 1, 2, 5, 10 ms and more between tries, so
	// that concurrent workers would wait for each other's sleeps rather
	// than for the disk; this lock hands over at once. (Other processes,
	// the CLI beside the app, still meet the busy handler.)
	wlock chan struct{}
}

// Open opens (creating if needed) the database at path, in WAL mode, and
// brings its schema up to date.
func Open(path string) (*Store, error) { return open(path, true) }

// open is Open; local refuses a folder on a network share (CheckLocal).
func open(path string, local bool) (*Store, error) {
	if path == "" {
		return nil, clinicsync.Errorf(clinicsync.EConfig, "No database path was given.")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := CheckLocal(filepath.Dir(abs)); err != nil && local {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// Deleted content is overwritten with zeros, not left in free space:
	// a webhook body (note text) dropped after processing must not stay
	// readable in the file (with ScrubWAL, which empties the WAL).
	q.Add("_pragma", "secure_delete(ON)")
	q.Add("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// One writer at a time is SQLite's model; a small pool keeps readers
	// (the window, the CLI) from queuing behind a long write.
	db.SetMaxOpenConns(4)
	// Kept open when idle: a connection closed loses its prepared
	// statements (prepared), and the next one parses them again.
	db.SetMaxIdleConns(4)
	s := &Store{db: db, Now: time.Now, wlock: make(chan struct{}, 1)}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	q.Set("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "secure_delete(ON)")
	durable, err := sql.Open("sqlite", "file:"+(&url.URL{Path: abs}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	durable.SetMaxOpenConns(1)
	s.durable = durable
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.bgMu.Lock()
	s.closed = true
	s.bgMu.Unlock()
	s.bgCancel()
	s.bg.Wait()
	s.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	s.durable.Close()
	return s.db.Close()
}

// ScrubWAL copies the write-ahead log into the database and empties it
// (PRAGMA wal_checkpoint(TRUNCATE)). With secure_delete on, content that was
// deleted or overwritten (a processed webhook body) is then gone from
// state.db and state.db-wal alike, instead of staying in old WAL frames
// until the next automatic checkpoint, which can be hours on a quiet PC.
// done is false when a reader kept the log from being emptied (try again
// later).
func (s *Store) ScrubWAL(ctx context.Context) (done bool, err error) {
	var busy, logPages, moved int
	if err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &moved); err != nil {
		return false, fmt.Errorf("checkpoint: %w", err)
	}
	return busy == 0, nil
}

// DB exposes the handle for tests and diagnostics.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		if !ok || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %q: name must be NNNN_description.sql", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %q: %w", name, err)
		}
		body, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations are not numbered 1..n: %q", m.name)
		}
	}
	return out, nil
}

// migrate applies every migration not yet applied, each in its own
// transaction together with its row in schema_migrations.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migration) error {
	tx, err := s.begin(s.db, ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, s.now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// SchemaVersion returns the highest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

// ms converts a time to unix milliseconds, the zero time to 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts unix milliseconds back, 0 to the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

var errNotFound = errors.New("not found")

// GetCursor returns a named cursor's value, "" if unset.
func (s *Store) GetCursor(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM cursors WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetCursor stores a named cursor.
func (s *Store) SetCursor(ctx context.Context, name, value string) error {
	_, err := s.write(ctx, `INSERT INTO cursors(name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, value, s.now().UnixMilli())
	return err
}

// transactions counts the write transactions this process has made (each
// autocommit statement and each BeginTx), for the benchmarks that keep
// local work per document small.
var transactions atomic.Int64

// Transactions returns how many write transactions this process has made.
func Transactions() int64 { return transactions.Load() }

// write runs one statement in its own transaction.
func (s *Store) write(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := s.lockWrite(ctx); err != nil {
		return nil, err
	}
	defer s.unlockWrite()
	transactions.Add(1)
	return s.db.ExecContext(ctx, q, args...)
}

// begin starts a write transaction on db; its Commit or Rollback ends it.
func (s *Store) begin(db *sql.DB, ctx context.Context, opts *sql.TxOptions) (*writeTx, error) {
	if err := s.lockWrite(ctx); err != nil {
		return nil, err
	}
	transactions.Add(1)
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		s.unlockWrite()
		return nil, err
	}
	return &writeTx{Tx: tx, unlock: s.unlockWrite}, nil
}

func (s *Store) lockWrite(ctx context.Context) error {
	select {
	case s.wlock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) unlockWrite() { <-s.wlock }

// writeTx is a write transaction holding the store's write lock until it
// is committed or rolled back.
type writeTx struct {
	*sql.Tx
	once   sync.Once
	unlock func()
}

func (t *writeTx) Commit() error {
	err := t.Tx.Commit()
	t.once.Do(t.unlock)
	return err
}

func (t *writeTx) Rollback() error {
	err := t.Tx.Rollback()
	t.once.Do(t.unlock)
	return err
}

// prepared returns the prepared statement of q, preparing it the first
// time. Only fixed statement texts come here (not the filters' queries
// built from their parts), so the cache stays small. Preparing takes a
// connection of the pool: inside a transaction (inTx), which holds one
// while others may be waiting for its write lock, that could wait for
// ever, so there a statement not prepared yet is prepared in the
// background for next time and nil is returned (run it unprepared).
func (s *Store) prepared(ctx context.Context, q string, inTx bool) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	if inTx {
		s.prepareLater(q)
		return nil, nil
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// prepareLater prepares q in the background, unless it is being prepared
// already or the store is closed.
func (s *Store) prepareLater(q string) {
	if _, busy := s.preparing.LoadOrStore(q, true); busy {
		return
	}
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.closed {
		s.preparing.Delete(q)
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer s.preparing.Delete(q)
		if beforeBackgroundPrepare != nil {
			beforeBackgroundPrepare(s.bgCtx)
		}
		_, _ = s.prepared(s.bgCtx, q, false)
	}()
}

// beforeBackgroundPrepare, when set (tests), runs first in each background
// preparation.
var beforeBackgroundPrepare func(ctx context.Context)

// conn is where the statements of a store method run: on the database,
// each write its own transaction, or inside a Batch's transaction.
type conn struct {
	s  *Store
	tx *sql.Tx // nil: the database
}

func (s *Store) conn() conn { return conn{s: s} }

// exec runs one write statement (prepared once per connection).
func (c conn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := c.s.prepared(ctx, q, c.tx != nil)
	if err != nil {
		return nil, err
	}
	if c.tx != nil {
		if st == nil {
			return c.tx.ExecContext(ctx, q, args...)
		}
		return c.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	if err := c.s.lockWrite(ctx); err != nil {
		return nil, err
	}
	defer c.s.unlockWrite()
	transactions.Add(1)
	return st.ExecContext(ctx, args...)
}

// queryRow runs one read statement that returns at most one row.
func (c conn) queryRow(ctx context.Context, q string, args ...any) scanner {
	st, err := c.s.prepared(ctx, q, c.tx != nil)
	if err != nil {
		return errRow{err}
	}
	if c.tx != nil {
		if st == nil {
			return c.tx.QueryRowContext(ctx, q, args...)
		}
		return c.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// errRow is a row whose statement could not be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// Batch runs f in one write transaction, so that what happens at one
// moment (a listed page admitted, a document's step and its activity
// line) costs one commit, not one each. An error from f (or a failed
// commit) leaves nothing of it.
func (s *Store) Batch(ctx context.Context, f func(*Tx) error) error {
	tx, err := s.begin(s.db, ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(&Tx{c: conn{s: s, tx: tx.Tx}}); err != nil {
		return err
	}
	return tx.Commit()
}

// Tx is a Batch's transaction: the store's writes that are batched, and
// Get, which sees them.
type Tx struct{ c conn }
