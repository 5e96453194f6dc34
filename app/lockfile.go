package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// LockFileName is the file in the data dir through which `clusterlab op`
// finds a running `clusterlab serve`.
const LockFileName = "serve.lock"

// maxLockBytes bounds what ReadLock reads.
const maxLockBytes = 64 << 10

// LockInfo is the content of the lock file: where the API listens, its
// token and the server's process id.
type LockInfo struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
	PID   int    `json:"pid"`
}

// ErrNoServer reports that no lock file was found.
var ErrNoServer = errors.New("app: no running clusterlab serve found")

// DefaultDataDir is os.UserConfigDir()/clusterlab.
func DefaultDataDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("app: data dir: %w (set --data-dir)", err)
	}
	return filepath.Join(dir, "clusterlab"), nil
}

// WriteLock writes info to dir/serve.lock with mode 0600 (the token is a
// secret), creating dir with mode 0700 if needed. The file is replaced
// atomically.
func WriteLock(dir string, info LockInfo) (string, error) {
	return writeLockFile(dir, LockFileName, info)
}

// ReadLock reads dir/serve.lock. A missing file is ErrNoServer; a file
// that does not decode, or lacks the address or token, is an error that
// names it.
func ReadLock(dir string) (LockInfo, error) {
	return readLockFile(dir, LockFileName)
}

// ReadAnyLock reads dir/serve.lock, or dir/agent.lock when there is no
// serve.lock: what `clusterlab op --data-dir` talks to.
func ReadAnyLock(dir string) (LockInfo, error) {
	info, err := ReadLock(dir)
	if errors.Is(err, ErrNoServer) {
		if ai, aerr := ReadAgentLock(dir); aerr == nil {
			return ai, nil
		}
	}
	return info, err
}

// RemoveLock deletes dir/serve.lock if it still belongs to process pid.
func RemoveLock(dir string, pid int) error {
	info, err := ReadLock(dir)
	if err != nil || info.PID != pid {
		return nil
	}
	if err := os.Remove(filepath.Join(dir, LockFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("app: remove lock file: %w", err)
	}
	return nil
}

// writeLockFile writes info to dir/name with mode 0600 (the token is a
// secret), creating dir with mode 0700; the file is replaced atomically.
func writeLockFile(dir, name string, info LockInfo) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("app: lock file: %w", err)
	}
	b, err := json.Marshal(info)
	if err != nil {
		return "", fmt.Errorf("app: lock file: %w", err)
	}
	path := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, name+".*")
	if err != nil {
		return "", fmt.Errorf("app: lock file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("app: lock file: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("app: lock file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("app: lock file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("app: lock file: %w", err)
	}
	return path, nil
}

// readLockFile reads and checks dir/name (bounded, must decode and name an
// address and token).
func readLockFile(dir, name string) (LockInfo, error) {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return LockInfo{}, fmt.Errorf("%w: %s does not exist", ErrNoServer, path)
	}
	if err != nil {
		return LockInfo{}, fmt.Errorf("app: lock file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLockBytes+1))
	if err != nil {
		return LockInfo{}, fmt.Errorf("app: lock file %s: %w", path, err)
	}
	if len(b) > maxLockBytes {
		return LockInfo{}, fmt.Errorf("app: lock file %s: over %d bytes", path, maxLockBytes)
	}
	var info LockInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return LockInfo{}, fmt.Errorf("app: lock file %s: %w", path, err)
	}
	if info.Addr == "" || info.Token == "" {
		return LockInfo{}, fmt.Errorf("app: lock file %s: no address or token", path)
	}
	return info, nil
}
