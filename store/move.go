package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
)

// Tally counts the rows of every table: what must be the same before and
// after the file is moved.
func (s *Store) Tally(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, t := range tables {
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+t+`"`).Scan(&n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, nil
}

// tally opens the database at path, counts its rows and closes it (which
// folds the write-ahead log into the file). The one it moves off a network
// share is read there once, by this process alone.
func tally(path string, local bool) (map[string]int64, error) {
	s, err := open(path, local)
	if err != nil {
		return nil, err
	}
	n, err := s.Tally(context.Background())
	return n, errors.Join(err, s.Close())
}

// Move moves the database at from, with its -wal and -shm files, to to,
// which must not exist: by renaming, or by copying (to another volume) and
// removing the originals once the copy is checked. It checks that every
// table has as many rows after as before, and puts everything back as it
// was otherwise. Nothing else may have the database open.
func Move(from, to string) error {
	if _, err := os.Stat(to); err == nil {
		return fmt.Errorf("move the database: %s exists", to)
	}
	before, err := tally(from, false)
	if err != nil {
		return fmt.Errorf("move the database: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	var moved, copied []string // suffixes
	undo := func() {
		for _, sfx := range moved {
			os.Rename(to+sfx, from+sfx)
		}
		for _, sfx := range copied {
			os.Remove(to + sfx)
		}
	}
	for _, sfx := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(from + sfx); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Rename(from+sfx, to+sfx); err == nil {
			moved = append(moved, sfx)
			continue
		}
		// Another volume (a redirected profile): copy.
		if err := copyFile(from+sfx, to+sfx); err != nil {
			undo()
			return fmt.Errorf("move the database: %w", err)
		}
		copied = append(copied, sfx)
	}
	after, err := tally(to, true)
	if err == nil && !maps.Equal(before, after) {
		err = fmt.Errorf("rows before %v, after %v", before, after)
	}
	if err != nil {
		undo()
		return fmt.Errorf("move the database: %w", err)
	}
	for _, sfx := range copied {
		os.Remove(from + sfx)
	}
	return nil
}

// copyFile copies src to a new file dst and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}
