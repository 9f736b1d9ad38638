package main

import (
	"log"
	"log/slog"
	"strings"
	"sync"
)

// toolkitLogToDebug sends what the GUI toolkit writes to Go's standard
// logger (Fyne's "Fyne error: Unable to connect to session D-Bus" for each
// notification on a desktop without D-Bus, systray's "failed to register")
// to the debug log, each line once: on the terminal it looked alarming and
// said nothing a user can act on. The app itself logs through slog.
func toolkitLogToDebug(l *slog.Logger) {
	log.SetFlags(0)
	log.SetOutput(&onceWriter{log: l, seen: map[string]bool{}})
}

// onceWriter logs each distinct line once, at debug level.
type onceWriter struct {
	log  *slog.Logger
	mu   sync.Mutex
	seen map[string]bool
}

// onceMax bounds the lines remembered; past it, lines are logged again.
const onceMax = 256

func (w *onceWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || w.seen[line] {
			continue
		}
		if len(w.seen) >= onceMax {
			clear(w.seen)
		}
		w.seen[line] = true
		w.log.Debug("toolkit", "line", line)
	}
	return len(p), nil
}
