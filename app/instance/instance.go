// Package instance keeps Clinic Sync to one running copy per user: a second
// launch asks the first to bring its window forward, then exits.
//
// The first process to call Acquire on the per-user data folder becomes the
// primary. It holds an OS file lock on <dir>/instance.lock for as long as it
// runs (the operating system drops the lock when the process dies, however
// it dies) and listens on a loopback TCP port whose number, with a random
// token, it publishes in <dir>/instance.json (mode 0600). A later Acquire
// that finds the lock taken sends the token and "show" to that port, and
// the primary calls its onShow callback.
//
// The lock, not instance.json, decides who is primary: a file left behind by
// a crashed process is simply replaced, and while the lock is held nobody
// else becomes primary, even if the holder does not answer.
//
// The same connection also carries "quit" (Quit): an installer asks the
// running copy to end before it replaces the program, and instance.json
// says how that copy was started (its program and arguments) and its
// version, so that the new version can be started again the same way.
package instance

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// ErrRunning is returned by Acquire when another process already holds the
// data folder. It is returned as is when that process was told to show its
// window, and wrapped with the reason when it could not be reached.
var ErrRunning = errors.New("instance: another instance is already running")

const (
	lockFile  = "instance.lock"
	stateFile = "instance.json"
	showLine  = "show\n"
	quitLine  = "quit\n" // as long as showLine: a request is the token line and one of them
	okLine    = "ok\n"
	maxConns  = 8 // connections served at once; more are closed at once
)

// Timeouts, variables so tests can shorten them.
var (
	notifyTimeout = 2 * time.Second        // a second launch waits this long for the primary
	serveTimeout  = 2 * time.Second        // the primary gives a connection this long
	retryInterval = 100 * time.Millisecond // between attempts to reach the primary
)

// state is the content of instance.json.
type state struct {
	PID   int    `json:"pid"`
	Port  int    `json:"port"`
	Token string `json:"token"`
	// Version, Exe and Args say what runs and how it was started
	// (os.Executable, os.Args[1:]).
	Version string   `json:"version,omitempty"`
	Exe     string   `json:"exe,omitempty"`
	Args    []string `json:"args,omitempty"`
}

// Options are what the primary instance does and says.
type Options struct {
	// OnShow is called when a later launch asks for the window; OnQuit
	// when Quit asks this process to end (it should end soon: Quit waits
	// for the lock to be released). Either may be nil. They are called on
	// a goroutine of this package and must not block on the goroutine
	// that calls Close (hand the work to the UI thread and return).
	OnShow, OnQuit func()
	// Version is written to instance.json with how this process was started.
	Version string
}

// Launch is how a running copy was started, and its version.
type Launch struct {
	Version string
	Exe     string
	Args    []string
}

// Instance is the primary instance. Close releases it.
type Instance struct {
	dir       string
	lock      *os.File
	ln        net.Listener
	tokenLine []byte // the token line
	onShow    func()
	onQuit    func()
	showMu    sync.Mutex // onShow and onQuit calls never overlap
	slots     chan struct{}
	wg        sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}

	closeOnce sync.Once
	closeErr  error
}

// Acquire makes this process the primary instance for dir, the per-user
// data folder (created with mode 0700 if missing). onShow, which may be
// nil, is called on a goroutine of this package each time a later launch
// asks for the window; it must not block on the goroutine that calls Close
// (hand the work to the UI thread, e.g. with fyne.Do, and return).
//
// If another process holds dir, Acquire tells it to show its window (waiting
// at most 2 seconds) and returns ErrRunning; the caller should exit.
func Acquire(dir string, onShow func()) (*Instance, error) {
	return AcquireWith(dir, Options{OnShow: onShow})
}

// AcquireWith is Acquire with what the primary does on a quit request and
// the version it publishes.
func AcquireWith(dir string, o Options) (*Instance, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	locked, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("instance: locking %s: %w", f.Name(), err)
	}
	if !locked {
		f.Close()
		if err := notify(dir); err != nil {
			return nil, fmt.Errorf("%w, but it did not answer: %v", ErrRunning, err)
		}
		return nil, ErrRunning
	}
	i, err := start(dir, f, o)
	if err != nil {
		unlock(f)
		f.Close()
		return nil, fmt.Errorf("instance: %w", err)
	}
	return i, nil
}

// start listens, publishes instance.json and serves; lock is held.
func start(dir string, lock *os.File, o Options) (*Instance, error) {
	token := make([]byte, 32)
	rand.Read(token) // never fails (crypto/rand)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	st := state{PID: os.Getpid(), Port: ln.Addr().(*net.TCPAddr).Port, Token: hex.EncodeToString(token),
		Version: o.Version, Args: os.Args[1:]}
	st.Exe, _ = os.Executable()
	data, err := json.Marshal(st)
	if err == nil {
		err = writeFileAtomic(filepath.Join(dir, stateFile), data)
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	i := &Instance{
		dir:       dir,
		lock:      lock,
		ln:        ln,
		tokenLine: []byte(st.Token + "\n"),
		onShow:    o.OnShow,
		onQuit:    o.OnQuit,
		slots:     make(chan struct{}, maxConns),
		conns:     make(map[net.Conn]struct{}),
	}
	i.wg.Add(1)
	go i.accept()
	return i, nil
}

// Close stops listening, waits for connections being served (and any
// onShow call in progress), removes instance.json and releases the lock.
// Calling it again returns the first result.
func (i *Instance) Close() error {
	i.closeOnce.Do(func() {
		i.mu.Lock()
		i.closed = true
		for c := range i.conns {
			c.Close()
		}
		i.mu.Unlock()
		i.ln.Close()
		i.wg.Wait()

		// Remove the state while still holding the lock, so a new primary's
		// file is never the one removed.
		err := os.Remove(filepath.Join(i.dir, stateFile))
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		err = errors.Join(err, unlock(i.lock), i.lock.Close())
		if err != nil {
			i.closeErr = fmt.Errorf("instance: close: %w", err)
		}
	})
	return i.closeErr
}

func (i *Instance) accept() {
	defer i.wg.Done()
	for {
		c, err := i.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // e.g. out of file descriptors: wait, don't spin
			time.Sleep(retryInterval)
			continue
		}
		select {
		case i.slots <- struct{}{}:
		default:
			c.Close()
			continue
		}
		if !i.track(c, true) {
			c.Close()
			<-i.slots
			return
		}
		i.wg.Add(1)
		go func() {
			defer i.wg.Done()
			i.handle(c)
			i.track(c, false)
			<-i.slots
		}()
	}
}

// track adds (or removes) a connection Close must interrupt. It refuses to
// add one once Close has begun.
func (i *Instance) track(c net.Conn, add bool) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !add {
		delete(i.conns, c)
		return true
	}
	if i.closed {
		return false
	}
	i.conns[c] = struct{}{}
	return true
}

// handle reads exactly the token line and a request's length within
// serveTimeout; anything but the token line followed by showLine or
// quitLine closes the connection without an answer.
func (i *Instance) handle(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(serveTimeout))
	got := make([]byte, len(i.tokenLine)+len(showLine))
	if _, err := io.ReadFull(c, got); err != nil {
		return
	}
	if subtle.ConstantTimeCompare(got[:len(i.tokenLine)], i.tokenLine) != 1 {
		return
	}
	var f func()
	switch string(got[len(i.tokenLine):]) {
	case showLine:
		f = i.onShow
	case quitLine:
		f = i.onQuit
	default:
		return
	}
	i.call(f)
	io.WriteString(c, okLine)
}

func (i *Instance) call(f func()) {
	if f == nil {
		return
	}
	i.showMu.Lock()
	defer i.showMu.Unlock()
	f()
}

// notify asks the primary for dir to show its window. It retries until
// notifyTimeout: the primary may hold the lock but not yet have written
// instance.json.
func notify(dir string) error {
	deadline := time.Now().Add(notifyTimeout)
	for {
		err := notifyOnce(dir, deadline)
		if err == nil || time.Now().Add(retryInterval).After(deadline) {
			return err
		}
		time.Sleep(retryInterval)
	}
}

func notifyOnce(dir string, deadline time.Time) error {
	_, err := request(dir, showLine, deadline)
	return err
}

// request sends line to the primary for dir and waits for its answer.
func request(dir, line string, deadline time.Time) (state, error) {
	st, err := readState(dir)
	if err != nil {
		return st, err
	}
	return st, send(st, line, deadline)
}

func send(st state, line string, deadline time.Time) error {
	d := net.Dialer{Deadline: deadline}
	c, err := d.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(st.Port)))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	if _, err := io.WriteString(c, st.Token+"\n"+line); err != nil {
		return err
	}
	reply := make([]byte, len(okLine))
	if _, err := io.ReadFull(c, reply); err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	if string(reply) != okLine {
		return errors.New("unexpected answer")
	}
	return nil
}

// Running reports whether a process is the primary for dir: whether the
// lock is held (taking it for a moment when nobody holds it).
func Running(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	locked, err := tryLock(f)
	if err != nil || !locked {
		return err == nil
	}
	unlock(f)
	return false
}

// Quit asks the primary for dir to end and waits, up to timeout, until it
// has released the lock. It returns how that process was started (nil
// when none runs). A primary that does not answer, or keeps the lock past
// timeout, is an error.
func Quit(dir string, timeout time.Duration) (*Launch, error) {
	if !Running(dir) {
		return nil, nil
	}
	deadline := time.Now().Add(timeout)
	var st state
	var err error
	for {
		if st, err = request(dir, quitLine, deadline); err == nil {
			break
		}
		if !Running(dir) {
			return nil, nil // it ended meanwhile
		}
		if time.Now().Add(retryInterval).After(deadline) {
			return nil, fmt.Errorf("instance: the running copy did not answer: %w", err)
		}
		time.Sleep(retryInterval)
	}
	for Running(dir) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("instance: the running copy (pid %d) did not end within %s", st.PID, timeout)
		}
		time.Sleep(retryInterval)
	}
	return &Launch{Version: st.Version, Exe: st.Exe, Args: st.Args}, nil
}

// readState reads and checks instance.json. Errors never include the token.
func readState(dir string) (state, error) {
	f, err := os.Open(filepath.Join(dir, stateFile))
	if err != nil {
		return state{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return state{}, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return state{}, fmt.Errorf("%s: %w", stateFile, err)
	}
	if _, err := hex.DecodeString(st.Token); err != nil || len(st.Token) != 64 || st.Port <= 0 || st.Port > 65535 {
		return state{}, fmt.Errorf("%s: invalid content", stateFile)
	}
	return st, nil
}

// writeFileAtomic writes data to path with mode 0600 through a temporary
// file in the same directory, synced, then renamed over path.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// On Windows the rename fails while a second launch has path open for
	// reading; that lasts a moment, so try a few times.
	for try := 0; ; try++ {
		err = os.Rename(tmp, path)
		if err == nil || try == 10 {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
