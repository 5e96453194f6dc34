// Package session is clusterlab's per-project session store: one bbolt
// file in the user's config dir that remembers where each project left
// off (mode, simulator settings, connection profiles, UI state, saved
// traces, operation and alert history), plus the pure helpers that keep a
// session across a mode switch and turn a recorded session into a
// replayable scenario.
//
// Open the store once per process; a second clusterlab on the same data
// dir fails within OpenOptions.Timeout with ErrLocked instead of hanging:
//
//	st, err := session.Open(ctx, session.OpenOptions{DataDir: dir})
//	if err != nil {
//		return err // errors.Is(err, session.ErrLocked): another instance
//	}
//	defer st.Close()
//	p := st.Project(session.ProjectName(workdir, projectFlag))
//	_ = p.Touch(workdir)             // for the project switcher
//	s, err := p.Session()            // DefaultSession() on first use
//	s.UI.Filters["behavior"] = "echo"
//	err = p.SaveSession(s)           // one atomic bbolt transaction
//
// Every stored value is JSON inside a versioned envelope
// ({"version":N,"data":...}); older versions are migrated on read through
// a registry of N→N+1 migrations, newer ones are refused with
// ErrNewerVersion, and undecodable bytes yield ErrCorrupt naming the key.
//
// Layout of the file: a root bucket "projects" holding one bucket per
// project name; each project bucket holds the keys "meta" and "session"
// and the bounded, append-only sub-buckets "history", "traces" and
// "alerts" (keyed by big-endian sequence numbers) with the index
// "alert_ids" (alert id → sequence).
//
// A Store is safe for concurrent use by multiple goroutines; a Project is a
// light handle and is safe for concurrent use too.
package session
