package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// File names inside the data dir.
const (
	// DBFileName is the name of the session database inside the data dir.
	DBFileName = "clusterlab.db"
	// pidFileSuffix names the side file that records which process holds
	// the database, so a second instance can say who it is.
	pidFileSuffix = ".pid"
)

// Defaults applied by Open to zero OpenOptions fields.
const (
	// DefaultTimeout is how long Open waits for the file lock.
	DefaultTimeout = time.Second
	// DefaultMaxHistory bounds the operation history of a project.
	DefaultMaxHistory = 1000
	// DefaultMaxTraces bounds the saved traces of a project.
	DefaultMaxTraces = 100
	// DefaultMaxAlerts bounds the alert history of a project.
	DefaultMaxAlerts = 1000
	// DefaultMaxTraceBytes bounds one saved trace.
	DefaultMaxTraceBytes = 8 << 20
)

// Limits on values kept in the store. Values are read back from a file a
// user (or a crash) may have damaged, so reads check them too.
const (
	// MaxValueBytes bounds any one stored value (a saved trace is bounded
	// by OpenOptions.MaxTraceBytes instead, at most this).
	MaxValueBytes = 32 << 20
	// MaxSessionBytes bounds the encoded Session of one project.
	MaxSessionBytes = 1 << 20
	// MaxRecordBytes bounds one operation record or alert.
	MaxRecordBytes = 64 << 10
	// MaxProjectNameLen bounds a project name (bucket key).
	MaxProjectNameLen = 200
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrLocked says another process holds the session store. The error
	// returned by Open is a *LockedError naming the path and, if known,
	// the holder's pid.
	ErrLocked = errors.New("session: the session store is in use by another clusterlab")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("session: the session store is closed")
	// ErrNewerVersion says a stored value was written by a newer
	// clusterlab than this one; it is refused rather than misread.
	ErrNewerVersion = errors.New("session: value written by a newer clusterlab")
	// ErrCorrupt says a stored value cannot be decoded; the error names
	// the project and key.
	ErrCorrupt = errors.New("session: corrupt value")
	// ErrInvalid says an argument (a session, a record, a name) was
	// refused before anything was written.
	ErrInvalid = errors.New("session: invalid value")
	// ErrNotFound says a named record (a trace, an alert) does not exist.
	ErrNotFound = errors.New("session: not found")
)

// LockedError is returned by Open when another process holds the store.
type LockedError struct {
	// Path is the database file.
	Path string
	// PID is the process holding it, 0 when unknown.
	PID int
}

// Error implements error.
func (e *LockedError) Error() string {
	who := "another clusterlab"
	if e.PID > 0 {
		who = fmt.Sprintf("another clusterlab (pid %d)", e.PID)
	}
	return fmt.Sprintf("session: the session store %s is in use by %s; close it or use --data-dir", e.Path, who)
}

// Is reports ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// OpenOptions configures Open. Zero fields take the documented default.
type OpenOptions struct {
	// DataDir is the directory of the database file (created 0700).
	// Default: os.UserConfigDir()/clusterlab.
	DataDir string
	// Timeout bounds how long Open waits for another process to release
	// the file lock before failing with ErrLocked. Default 1s. The
	// context's deadline, if sooner, wins.
	Timeout time.Duration
	// MaxHistory bounds each project's operation history (oldest dropped
	// first). Default DefaultMaxHistory.
	MaxHistory int
	// MaxTraces bounds each project's saved traces. Default
	// DefaultMaxTraces.
	MaxTraces int
	// MaxAlerts bounds each project's alert history. Default
	// DefaultMaxAlerts.
	MaxAlerts int
	// MaxTraceBytes bounds one saved trace. Default DefaultMaxTraceBytes,
	// at most MaxValueBytes.
	MaxTraceBytes int
	// Logger receives debug and warning logs. Default slog.Default().
	Logger *slog.Logger
}

func (o OpenOptions) withDefaults() (OpenOptions, error) {
	if o.DataDir == "" {
		cfg, err := os.UserConfigDir()
		if err != nil {
			return o, fmt.Errorf("session: no data dir given and no user config dir (%w); use --data-dir", err)
		}
		o.DataDir = filepath.Join(cfg, "clusterlab")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxHistory <= 0 {
		o.MaxHistory = DefaultMaxHistory
	}
	if o.MaxTraces <= 0 {
		o.MaxTraces = DefaultMaxTraces
	}
	if o.MaxAlerts <= 0 {
		o.MaxAlerts = DefaultMaxAlerts
	}
	if o.MaxTraceBytes <= 0 {
		o.MaxTraceBytes = DefaultMaxTraceBytes
	}
	if o.MaxTraceBytes > MaxValueBytes {
		return o, fmt.Errorf("%w: MaxTraceBytes %d is above %d", ErrInvalid, o.MaxTraceBytes, MaxValueBytes)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Store is an open session database. It is safe for concurrent use.
type Store struct {
	db      *bolt.DB
	path    string
	pidPath string
	opts    OpenOptions
	log     *slog.Logger

	mu     sync.RWMutex // guards closed against Close during a transaction
	closed bool
}

// Open opens (creating if needed) <DataDir>/clusterlab.db. When another
// process holds it, Open fails within opts.Timeout (or the context's
// deadline) with a *LockedError (errors.Is(err, ErrLocked)).
func Open(ctx context.Context, opts OpenOptions) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: open: %w", err)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("session: create data dir: %w", err)
	}
	path := filepath.Join(opts.DataDir, DBFileName)
	timeout := opts.Timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = left
		}
		if timeout <= 0 {
			return nil, fmt.Errorf("session: open %s: %w", path, context.DeadlineExceeded)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, &LockedError{Path: path, PID: readPIDFile(path + pidFileSuffix)}
		}
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) || errors.Is(err, berrors.ErrChecksum) {
			return nil, fmt.Errorf("session: %s is not a clusterlab session store or is damaged (%w); move it aside or use --data-dir", path, err)
		}
		return nil, fmt.Errorf("session: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, pidPath: path + pidFileSuffix, opts: opts, log: opts.Logger}
	if err := s.update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketProjects)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("session: initialise %s: %w", path, err)
	}
	if err := writePIDFile(s.pidPath, os.Getpid()); err != nil {
		// Only the "who holds it" hint is lost: not worth failing.
		s.log.Warn("session: cannot record the store's owner", "path", s.pidPath, "err", err)
	}
	s.log.Debug("session: store opened", "path", path)
	return s, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close releases the database (and its lock). It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if pid := readPIDFile(s.pidPath); pid == os.Getpid() {
		_ = os.Remove(s.pidPath)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("session: close %s: %w", s.path, err)
	}
	s.log.Debug("session: store closed", "path", s.path)
	return nil
}

// view runs fn in a read transaction, turning a panic inside bbolt (a
// damaged page) into an error.
func (s *Store) view(fn func(tx *bolt.Tx) error) (err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	defer recoverTo(&err, s.path)
	return s.db.View(fn)
}

// update runs fn in one atomic write transaction.
func (s *Store) update(fn func(tx *bolt.Tx) error) (err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	defer recoverTo(&err, s.path)
	return s.db.Update(fn)
}

// recoverTo turns a panic (bbolt panics on some damaged pages; both View
// and Update roll back in a deferred call first) into ErrCorrupt.
func recoverTo(err *error, path string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s: the database is damaged (%v); move it aside or use --data-dir", ErrCorrupt, path, r)
	}
}

// writePIDFile records pid in path atomically, mode 0600.
func writePIDFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readPIDFile returns the pid recorded in path, 0 when absent or invalid.
// The file is untrusted: it is read bounded and parsed strictly.
func readPIDFile(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
