package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// ServeConfig describes a `clusterlab serve` run.
type ServeConfig struct {
	// Backend is the template of the backends the workbench runs (see
	// WorkbenchConfig.Backend). For callers that set them, non-zero
	// Nodes, Seed and Join count as explicit overrides.
	Backend BackendConfig
	// Project names the project (--project); default: the working
	// directory's.
	Project string
	// Workdir is the project's directory; default the working directory.
	Workdir string
	// Overrides are the command line's explicit settings; they win over
	// the project's saved session and are saved.
	Overrides StartOverrides
	// Addr is where the API listens; default 127.0.0.1:0 (a free port).
	Addr string
	// DataDir holds the lock file and the session store; default
	// DefaultDataDir().
	DataDir string
	// FrontendDir is the built frontend to serve; empty looks for
	// frontend/dist in the working directory and next to the executable.
	FrontendDir string
	// Version is reported by the API.
	Version string
	// Out receives the startup banner with the URL; default os.Stdout.
	Out io.Writer
	// Logger receives logs; default discards them.
	Logger *slog.Logger
	// Ready, when set, is called with the lock info once the API serves.
	Ready func(LockInfo)
}

// NewToken returns a random 256-bit token, hex-encoded.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Serve runs the workbench (the session store, the project's restored
// session and its backend) and its HTTP API until ctx ends: it writes the
// lock file (address, token, pid; mode 0600) into the data dir, prints the
// URL with the token, and on the end shuts down gracefully and removes the
// lock file. It refuses to start when another serve still runs on the
// same data dir, or when another clusterlab holds the session store.
func Serve(ctx context.Context, cfg ServeConfig) error {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Backend.Logger == nil {
		cfg.Backend.Logger = cfg.Logger
	}
	if cfg.DataDir == "" {
		d, err := DefaultDataDir()
		if err != nil {
			return err
		}
		cfg.DataDir = d
	}
	if info, err := ReadLock(cfg.DataDir); err == nil && info.PID != os.Getpid() && processAlive(info.PID) {
		return fmt.Errorf("app: another clusterlab serve (pid %d) is running at %s with data dir %s; stop it or pass another --data-dir", info.PID, info.Addr, cfg.DataDir)
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("app: --addr %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		cfg.Logger.Warn("the API listens beyond the loopback interface; anyone who can reach it and has the token controls the cluster", "addr", cfg.Addr)
	}
	frontend, frontendDir := findFrontend(cfg.FrontendDir)

	ov := cfg.Overrides
	if ov.Nodes == 0 && cfg.Backend.Nodes > 0 {
		ov.Nodes = cfg.Backend.Nodes
	}
	if !ov.SeedSet && cfg.Backend.Seed != 0 {
		ov.Seed, ov.SeedSet = cfg.Backend.Seed, true
	}
	if len(ov.Join) == 0 && len(cfg.Backend.Join) > 0 {
		ov.Join, ov.Label = cfg.Backend.Join, cfg.Backend.Label
	}
	wb, err := OpenWorkbench(ctx, WorkbenchConfig{DataDir: cfg.DataDir, Project: cfg.Project, Workdir: cfg.Workdir,
		Backend: cfg.Backend, Overrides: ov, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = wb.Close(closeCtx)
	}()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("app: listen: %w", err)
	}
	info := LockInfo{Addr: ln.Addr().String(), Token: NewToken(), PID: os.Getpid()}
	api := wb.API(APIConfig{Token: info.Token, Frontend: frontend, Version: cfg.Version, Logger: cfg.Logger})
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
	lockPath, err := WriteLock(cfg.DataDir, info)
	if err != nil {
		ln.Close()
		return err
	}
	defer RemoveLock(cfg.DataDir, info.PID)

	in := wb.info()
	mode := fmt.Sprintf("connected to %s", in.Mode)
	if b := wb.Backend(); b.Simulated() {
		mode = fmt.Sprintf("[SIMULATED] %d virtual nodes, seed %d", len(b.Sim.Nodes())-1, b.Sim.Seed())
	}
	fmt.Fprintf(cfg.Out, "clusterlab serve: %s, observer %s\n", mode, in.Observer)
	fmt.Fprintf(cfg.Out, "project:   %s (session in %s)\n", in.Project, wb.Store().Path())
	if in.Fallback != "" {
		fmt.Fprintf(cfg.Out, "note:      %s\n", in.Fallback)
	}
	fmt.Fprintf(cfg.Out, "open:      http://%s/?token=%s\n", info.Addr, info.Token)
	fmt.Fprintf(cfg.Out, "lock file: %s (`clusterlab op` finds the server through it)\n", lockPath)
	if frontendDir != "" {
		fmt.Fprintf(cfg.Out, "frontend:  %s\n", frontendDir)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.Ready != nil {
		cfg.Ready(info)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("app: serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(cfg.Out, "clusterlab serve: shutting down")
	// Closing the hub ends the event streams, so Shutdown does not wait
	// for them.
	wb.Hub().Close()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("app: serve: %w", err)
	}
	return nil
}

// findFrontend returns the built frontend to serve: dir if given, else
// frontend/dist under the working directory or next to the executable
// (bin/../frontend/dist). It must hold an index.html.
func findFrontend(dir string) (fs.FS, string) {
	candidates := []string{dir}
	if dir == "" {
		candidates = []string{filepath.Join("frontend", "dist")}
		if exe, err := os.Executable(); err == nil {
			candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", "frontend", "dist"))
		}
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(c, "index.html")); err == nil && !st.IsDir() {
			abs, _ := filepath.Abs(c)
			return os.DirFS(c), abs
		}
	}
	return nil, ""
}
