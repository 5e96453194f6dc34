package session

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Bucket and key names of the file layout (see the package doc).
var (
	bucketProjects = []byte("projects")
	bucketHistory  = []byte("history")
	bucketTraces   = []byte("traces")
	bucketAlerts   = []byte("alerts")
	bucketAlertIDs = []byte("alert_ids")
	keyMeta        = []byte("meta")
	keySession     = []byte("session")
	keyHealthRules = []byte("health_rules")
)

// ProjectName returns the key of the project for a working directory:
// override when it is not blank (the --project flag, trimmed, control
// characters replaced), otherwise the directory's base name plus a short
// hash of its absolute path ("shop-3f9a1c2e"), so it is readable, stable
// across runs, and two checkouts named alike do not share a session.
func ProjectName(workdir string, override string) string {
	if o := strings.TrimSpace(override); o != "" {
		return sanitizeOverride(o)
	}
	abs, err := filepath.Abs(workdir)
	if err != nil {
		abs = filepath.Clean(workdir)
	}
	sum := sha256.Sum256([]byte(abs))
	return sanitizeBase(filepath.Base(abs)) + "-" + hex.EncodeToString(sum[:4])
}

// sanitizeOverride keeps a user-chosen name as written, minus control
// characters and invalid UTF-8, cut to MaxProjectNameLen bytes.
func sanitizeOverride(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			r = '_'
		}
		if b.Len()+utf8.RuneLen(r) > MaxProjectNameLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sanitizeBase turns a directory name into [A-Za-z0-9._-]{1,60}.
func sanitizeBase(s string) string {
	const maxBase = 60
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-'):
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= maxBase {
			break
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "root"
	}
	return out
}

// validateProjectName checks a project name before it becomes a bucket key.
func validateProjectName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty project name", ErrInvalid)
	case len(name) > MaxProjectNameLen:
		return fmt.Errorf("%w: project name is %d bytes, above %d", ErrInvalid, len(name), MaxProjectNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: project name is not valid UTF-8", ErrInvalid)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: project name %q has control characters", ErrInvalid, name)
		}
	}
	return nil
}

// ProjectInfo describes a project for the project switcher.
type ProjectInfo struct {
	// Name is the project's key (ProjectName).
	Name string `json:"name"`
	// Workdir is the directory the project was last opened from, if known.
	Workdir string `json:"workdir,omitempty"`
	// Created is when the project was first written.
	Created time.Time `json:"created"`
	// LastOpened is when Touch was last called for it.
	LastOpened time.Time `json:"last_opened"`
}

// Projects lists the projects in the store, most recently opened first.
// A project whose info is damaged is still listed, by name.
func (s *Store) Projects() ([]ProjectInfo, error) {
	var out []ProjectInfo
	err := s.view(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketProjects)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(k []byte) error {
			name := string(k)
			info := ProjectInfo{Name: name}
			if raw := root.Bucket(k).Get(keyMeta); raw != nil {
				var got ProjectInfo
				if err := schemaMeta.decode(raw, where(name, keyMeta), &got); err != nil {
					s.log.Warn("session: damaged project info", "project", name, "err", err)
				} else {
					info = got
					info.Name = name
				}
			}
			out = append(out, info)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("session: list projects: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].LastOpened.Equal(out[j].LastOpened) {
			return out[i].LastOpened.After(out[j].LastOpened)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Project returns a handle on the named project (see ProjectName). Nothing
// is written until a method writes; an invalid name makes every method
// fail with ErrInvalid.
func (s *Store) Project(name string) *Project {
	return &Project{s: s, name: name}
}

// DeleteProject removes a project and everything it holds.
func (s *Store) DeleteProject(name string) error {
	if err := validateProjectName(name); err != nil {
		return err
	}
	err := s.update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketProjects)
		if root == nil || root.Bucket([]byte(name)) == nil {
			return fmt.Errorf("%w: project %q", ErrNotFound, name)
		}
		return root.DeleteBucket([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("session: delete project %q: %w", name, err)
	}
	return nil
}

// Project is a handle on one project's bucket. It is safe for concurrent
// use; every write is one bbolt transaction.
type Project struct {
	s    *Store
	name string
}

// Name returns the project's name.
func (p *Project) Name() string { return p.name }

// Touch records that the project was opened now from workdir (kept when
// empty), for the project switcher.
func (p *Project) Touch(workdir string) error {
	err := p.write(func(b *bolt.Bucket, now time.Time) error {
		info, err := p.readMeta(b)
		if err != nil {
			return err
		}
		info.LastOpened = now
		if workdir != "" {
			info.Workdir = workdir
		}
		return p.putMeta(b, info)
	})
	if err != nil {
		return fmt.Errorf("session: touch project %q: %w", p.name, err)
	}
	return nil
}

// Info returns the project's info; ErrNotFound when nothing was written.
func (p *Project) Info() (ProjectInfo, error) {
	var info ProjectInfo
	err := p.read(func(b *bolt.Bucket) error {
		if b == nil || b.Get(keyMeta) == nil {
			return fmt.Errorf("%w: project %q", ErrNotFound, p.name)
		}
		var err error
		info, err = p.readMeta(b)
		return err
	})
	if err != nil {
		return ProjectInfo{}, fmt.Errorf("session: project %q info: %w", p.name, err)
	}
	return info, nil
}

// read runs fn with the project's bucket, nil when the project was never
// written.
func (p *Project) read(fn func(b *bolt.Bucket) error) error {
	if err := validateProjectName(p.name); err != nil {
		return err
	}
	return p.s.view(func(tx *bolt.Tx) error {
		var b *bolt.Bucket
		if root := tx.Bucket(bucketProjects); root != nil {
			b = root.Bucket([]byte(p.name))
		}
		return fn(b)
	})
}

// write runs fn in one write transaction with the project's bucket,
// created (with its info) when missing.
func (p *Project) write(fn func(b *bolt.Bucket, now time.Time) error) error {
	if err := validateProjectName(p.name); err != nil {
		return err
	}
	now := time.Now().UTC()
	return p.s.update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketProjects)
		if err != nil {
			return err
		}
		b := root.Bucket([]byte(p.name))
		if b == nil {
			if b, err = root.CreateBucket([]byte(p.name)); err != nil {
				return err
			}
			if err := p.putMeta(b, ProjectInfo{Name: p.name, Created: now, LastOpened: now}); err != nil {
				return err
			}
		}
		return fn(b, now)
	})
}

func (p *Project) readMeta(b *bolt.Bucket) (ProjectInfo, error) {
	info := ProjectInfo{Name: p.name}
	raw := b.Get(keyMeta)
	if raw == nil {
		return info, nil
	}
	if err := schemaMeta.decode(raw, where(p.name, keyMeta), &info); err != nil {
		return info, err
	}
	info.Name = p.name
	return info, nil
}

func (p *Project) putMeta(b *bolt.Bucket, info ProjectInfo) error {
	raw, err := schemaMeta.encode(info)
	if err != nil {
		return err
	}
	return b.Put(keyMeta, raw)
}

// where names a stored value in errors: `project "p" key "session"`.
func where(project string, key []byte) string {
	return fmt.Sprintf("project %q key %q", project, key)
}
