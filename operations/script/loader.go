package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/clusterlab/clusterlab/operations"
)

// Ext is the extension of script operation files.
const Ext = ".star"

// DefaultDebounce is how long the Loader waits after the last change of a
// file before reloading it (editors write a file in several steps).
const DefaultDebounce = 100 * time.Millisecond

// MaxFiles bounds how many script files one directory may hold.
const MaxFiles = 1000

// dirPollInterval is how often a Loader checks whether a missing
// directory has appeared.
const dirPollInterval = time.Second

// Dir returns the directory of a project's script operations:
// <project>/.clusterlab/operations.
func Dir(project string) string {
	return filepath.Join(project, ".clusterlab", "operations")
}

// Config describes a Loader.
type Config struct {
	// Dir is the directory of *.star files (see Dir). Required. It may
	// not exist yet: the Loader starts watching it when it appears.
	Dir string
	// Registry receives the operations and load failures. Required.
	Registry *operations.Registry
	// Debounce is the quiet time before a changed file is reloaded;
	// default DefaultDebounce.
	Debounce time.Duration
	// Logger receives the loader's logs; nil discards them.
	Logger *slog.Logger
}

// Loader keeps a Registry in step with a directory of script files: Start
// loads every file and watches the directory; a created or written file is
// (re)loaded, a removed or renamed one unregisters its operation. Every
// registry change is made from one goroutine. Close stops watching and
// unregisters what the loader registered.
type Loader struct {
	cfg Config
	log *slog.Logger

	// reloadMu serialises Reload, so that checking a name and
	// registering it happen together.
	reloadMu sync.Mutex

	mu     sync.Mutex
	loaded map[string]string // path → operation name registered from it
	failed map[string]bool   // paths with a recorded load failure
	closed bool

	cancel context.CancelFunc
	done   chan struct{}
}

// NewLoader returns a Loader for cfg; Start starts it.
func NewLoader(cfg Config) (*Loader, error) {
	if cfg.Dir == "" {
		return nil, errors.New("script: loader: Config.Dir is empty")
	}
	if cfg.Registry == nil {
		return nil, errors.New("script: loader: Config.Registry is nil")
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Loader{cfg: cfg, log: log.With("component", "script-loader", "dir", cfg.Dir), loaded: map[string]string{}, failed: map[string]bool{}}, nil
}

// Start loads every script in the directory, then watches it until ctx
// ends or Close is called. A missing directory is not an error: it is
// watched from when it appears. Start fails only when the watcher cannot
// be created.
func (l *Loader) Start(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("script: loader: watcher: %w", err)
	}
	l.mu.Lock()
	if l.closed || l.done != nil {
		l.mu.Unlock()
		_ = w.Close()
		return errors.New("script: loader: already started or closed")
	}
	ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	l.mu.Unlock()
	watching := l.watch(w)
	l.Sync()
	go func() {
		defer close(l.done)
		if err := l.loop(ctx, w, watching); err != nil {
			l.log.Warn("script watcher stopped", "err", err)
		}
	}()
	return nil
}

// Run is Start for a supervisor: it loads every script, then watches the
// directory until ctx ends (it returns nil then) or the watcher fails (it
// returns the error). It may be called again after it returns, for
// example after a panic: the loaded operations live in the Loader, and
// each run reads the directory again, so a change made in between is not
// missed. Use either Start or Run; Close unregisters the operations.
func (l *Loader) Run(ctx context.Context) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return errors.New("script: loader: closed")
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("script: loader: watcher: %w", err)
	}
	watching := l.watch(w)
	l.Sync()
	return l.loop(ctx, w, watching)
}

// watch adds the directory to w and reports whether it is watched.
func (l *Loader) watch(w *fsnotify.Watcher) bool {
	if err := w.Add(l.cfg.Dir); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			l.log.Warn("cannot watch script directory", "err", err)
		}
		return false
	}
	return true
}

// loop handles the watcher's events until ctx ends (nil) or the watcher
// fails (an error); it closes w.
func (l *Loader) loop(ctx context.Context, w *fsnotify.Watcher, watching bool) error {
	defer w.Close()
	pending := map[string]bool{}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	poll := time.NewTicker(dirPollInterval)
	defer poll.Stop()
	rescan := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			if !watching {
				if watching = l.watch(w); watching {
					l.log.Info("script directory appeared")
					l.Sync()
				}
			}
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("script: loader: the watcher's events closed")
			}
			if filepath.Clean(ev.Name) == filepath.Clean(l.cfg.Dir) {
				// The directory itself was removed or renamed.
				if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
					watching = false
					_ = w.Remove(l.cfg.Dir)
					rescan = true
					debounce.Reset(l.cfg.Debounce)
				}
				continue
			}
			if !isScript(ev.Name) || ev.Op == fsnotify.Chmod {
				continue
			}
			pending[ev.Name] = true
			debounce.Reset(l.cfg.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("script: loader: the watcher's errors closed")
			}
			// An overflow loses events: read the directory again.
			l.log.Warn("script watcher error; rescanning", "err", err)
			rescan = true
			debounce.Reset(l.cfg.Debounce)
		case <-debounce.C:
			if rescan {
				l.Sync()
				rescan = false
				clear(pending)
				continue
			}
			paths := make([]string, 0, len(pending))
			for p := range pending {
				paths = append(paths, p)
			}
			clear(pending)
			sort.Strings(paths)
			for _, p := range paths {
				l.Reload(p)
			}
		}
	}
}

func isScript(path string) bool {
	base := filepath.Base(path)
	return strings.HasSuffix(base, Ext) && !strings.HasPrefix(base, ".")
}

// Sync loads every script in the directory and unloads the files that are
// gone. Start calls it; the watcher calls it after losing events.
func (l *Loader) Sync() {
	entries, err := os.ReadDir(l.cfg.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		l.log.Warn("cannot read script directory", "err", err)
	}
	present := map[string]bool{}
	var paths []string
	for _, e := range entries {
		if e.IsDir() || !isScript(e.Name()) {
			continue
		}
		p := filepath.Join(l.cfg.Dir, e.Name())
		present[p] = true
		paths = append(paths, p)
	}
	l.mu.Lock()
	for p := range l.loaded {
		if !present[p] {
			paths = append(paths, p)
		}
	}
	for p := range l.failed {
		if !present[p] {
			paths = append(paths, p)
		}
	}
	l.mu.Unlock()
	sort.Strings(paths)
	paths = compact(paths)
	for i, p := range paths {
		if i >= MaxFiles && present[p] {
			l.fail(p, "", fmt.Sprintf("more than %d script files in %s; this one is not loaded", MaxFiles, l.cfg.Dir))
			continue
		}
		l.Reload(p)
	}
}

func compact(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// Reload loads the script at path again: it registers (or replaces) its
// operation, records a load failure, or unregisters it when the file is
// gone. The registry is updated before Reload returns.
func (l *Loader) Reload(path string) {
	l.reloadMu.Lock()
	defer l.reloadMu.Unlock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return
	}
	src, err := readScript(path)
	if errors.Is(err, os.ErrNotExist) {
		l.unload(path)
		return
	}
	if err != nil {
		l.fail(path, "", err.Error())
		return
	}
	op, err := Parse(path, src)
	if err != nil {
		l.fail(path, "", err.Error())
		return
	}
	name := op.Spec().Name
	if e, ok := l.cfg.Registry.Get(name); ok && e.Source != path {
		l.fail(path, name, fmt.Sprintf("%s: operation name %s is taken by %s; rename it", path, name, e.Source))
		return
	}
	l.mu.Lock()
	old, had := l.loaded[path]
	l.mu.Unlock()
	if had && old != name {
		l.cfg.Registry.Remove(old)
	}
	if err := l.cfg.Registry.Replace(op, path); err != nil {
		l.fail(path, name, err.Error())
		return
	}
	l.mu.Lock()
	l.loaded[path] = name
	delete(l.failed, path)
	l.mu.Unlock()
	l.log.Info("script operation loaded", "op", name, "path", path)
}

func readScript(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxSource+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrLoad, path, err)
	}
	if len(src) > MaxSource {
		return nil, fmt.Errorf("%w: %s: more than %d bytes", ErrLoad, path, MaxSource)
	}
	return src, nil
}

// fail unregisters what path registered and records the failure. name is
// the declared name when known, else the name the file last loaded with,
// else derived from the file name.
func (l *Loader) fail(path, name, msg string) {
	l.mu.Lock()
	old, had := l.loaded[path]
	delete(l.loaded, path)
	l.failed[path] = true
	l.mu.Unlock()
	switch {
	case name != "":
	case had:
		// The file declared this name when it last loaded: running it
		// now answers its load error.
		name = old
	default:
		name = strings.TrimSuffix(filepath.Base(path), Ext)
	}
	if had {
		l.cfg.Registry.Remove(old)
	}
	l.cfg.Registry.SetFailed(operations.LoadFailure{Name: name, Source: path, Error: strings.TrimPrefix(msg, "script: load: ")})
	l.log.Warn("script operation failed to load", "path", path, "err", msg)
}

// unload forgets path: its operation and its load failure.
func (l *Loader) unload(path string) {
	l.mu.Lock()
	old, had := l.loaded[path]
	delete(l.loaded, path)
	wasFailed := l.failed[path]
	delete(l.failed, path)
	l.mu.Unlock()
	if had {
		l.cfg.Registry.Remove(old)
		l.log.Info("script operation removed", "op", old, "path", path)
	}
	if wasFailed {
		l.cfg.Registry.ClearFailed(path)
	}
}

// Loaded returns the operations the loader registered, by file path.
func (l *Loader) Loaded() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]string, len(l.loaded))
	for p, n := range l.loaded {
		out[p] = n
	}
	return out
}

// Close stops watching and unregisters every operation and load failure
// the loader recorded. It is safe to call more than once.
func (l *Loader) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	l.reloadMu.Lock()
	defer l.reloadMu.Unlock()
	l.mu.Lock()
	loaded, failed := l.loaded, l.failed
	l.loaded, l.failed = map[string]string{}, map[string]bool{}
	l.mu.Unlock()
	for _, name := range loaded {
		l.cfg.Registry.Remove(name)
	}
	for p := range failed {
		l.cfg.Registry.ClearFailed(p)
	}
	return nil
}
