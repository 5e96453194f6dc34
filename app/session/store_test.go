package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// openTest opens a store in a fresh temp dir, closed at cleanup.
func openTest(t *testing.T, opts OpenOptions) *Store {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	st, err := Open(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// putRaw writes raw bytes at key of a project's bucket (or of its
// sub-bucket), bypassing the schemas: the way a damaged or foreign file
// looks.
func putRaw(t *testing.T, st *Store, project string, sub []byte, key, raw []byte) {
	t.Helper()
	require.NoError(t, st.update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketProjects).CreateBucketIfNotExists([]byte(project))
		if err != nil {
			return err
		}
		if sub != nil {
			if b, err = b.CreateBucketIfNotExists(sub); err != nil {
				return err
			}
		}
		return b.Put(key, raw)
	}))
}

func TestOpenCreatesDirAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "clusterlab")
	st := openTest(t, OpenOptions{DataDir: dir})
	assert.Equal(t, filepath.Join(dir, DBFileName), st.Path())

	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "data dir mode")
	fi, err = os.Stat(st.Path())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "db file mode")
	assert.Equal(t, os.Getpid(), readPIDFile(st.Path()+pidFileSuffix), "pid file names the holder")

	require.NoError(t, st.Close())
	require.NoError(t, st.Close(), "Close is idempotent")
	_, err = st.Project("p").Session()
	assert.ErrorIs(t, err, ErrClosed)
	_, err = os.Stat(st.Path() + pidFileSuffix)
	assert.True(t, os.IsNotExist(err), "pid file removed on close")
}

func TestOpenRefusesForeignFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, DBFileName), []byte(strings.Repeat("not a bolt file\n", 512)), 0o600))
	_, err := Open(context.Background(), OpenOptions{DataDir: dir, Timeout: 200 * time.Millisecond})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a clusterlab session store")
}

func TestOpenContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Open(ctx, OpenOptions{DataDir: t.TempDir()})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestSecondOpenInProcessIsLocked(t *testing.T) {
	// bbolt locks with flock(2), which is per open file description: a
	// second open of the same file in the same process conflicts too, so
	// this needs no subprocess (see TestSecondOpenOtherProcessNamesPID for
	// one).
	dir := t.TempDir()
	first := openTest(t, OpenOptions{DataDir: dir})

	began := time.Now()
	_, err := Open(context.Background(), OpenOptions{DataDir: dir}) // default 1s timeout
	elapsed := time.Since(began)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrLocked)
	var le *LockedError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, first.Path(), le.Path)
	assert.Equal(t, os.Getpid(), le.PID)
	assert.Contains(t, err.Error(), "is in use by another clusterlab (pid ")
	assert.Contains(t, err.Error(), "close it or use --data-dir")
	t.Logf("second Open failed after %v: %v", elapsed, err)
	// Not a speed target: only that it gives up instead of hanging.
	assert.Less(t, elapsed, 10*time.Second, "the second Open must give up, not hang")

	// A context deadline sooner than the timeout wins.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err = Open(ctx, OpenOptions{DataDir: dir, Timeout: time.Hour})
	assert.ErrorIs(t, err, ErrLocked)

	// Once the first is closed, the store opens again with the data kept.
	require.NoError(t, first.Project("p").SaveSession(Session{Mode: ModeSimulator, Simulator: SimulatorSettings{Nodes: 7}}))
	require.NoError(t, first.Close())
	again := openTest(t, OpenOptions{DataDir: dir})
	s, err := again.Project("p").Session()
	require.NoError(t, err)
	assert.Equal(t, 7, s.Simulator.Nodes)
}

func TestLockedErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  *LockedError
		want string
	}{
		{"with pid", &LockedError{Path: "/d/clusterlab.db", PID: 42}, "session: the session store /d/clusterlab.db is in use by another clusterlab (pid 42); close it or use --data-dir"},
		{"without pid", &LockedError{Path: "/d/clusterlab.db"}, "session: the session store /d/clusterlab.db is in use by another clusterlab; close it or use --data-dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
			assert.ErrorIs(t, tt.err, ErrLocked)
		})
	}
}

func TestReadPIDFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		want    int
	}{
		{"valid", "123\n", 123},
		{"garbage", "abc", 0},
		{"negative", "-5", 0},
		{"huge", strings.Repeat("9", 100), 0},
		{"empty", "", 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprint(i))
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			assert.Equal(t, tt.want, readPIDFile(path))
		})
	}
	assert.Equal(t, 0, readPIDFile(filepath.Join(dir, "missing")))
}

func TestProjectName(t *testing.T) {
	tests := []struct {
		name, workdir, override string
		want                    string // exact, or prefix when wantPrefix
		wantPrefix              bool
	}{
		{name: "override wins", workdir: "/home/a/shop", override: "  demo  ", want: "demo"},
		{name: "override control chars", workdir: "/x", override: "a\tb\x00c", want: "a_b_c"},
		{name: "base and hash", workdir: "/home/a/shop", want: "shop-", wantPrefix: true},
		{name: "odd base", workdir: "/home/a/my shop!", want: "my-shop-", wantPrefix: true},
		{name: "root", workdir: "/", want: "root-", wantPrefix: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ProjectName(tt.workdir, tt.override)
			if tt.wantPrefix {
				assert.True(t, strings.HasPrefix(got, tt.want), "ProjectName(%q) = %q; want prefix %q", tt.workdir, got, tt.want)
				assert.Len(t, got, len(tt.want)+8, "8 hex digits of hash")
			} else {
				assert.Equal(t, tt.want, got)
			}
			assert.NoError(t, validateProjectName(got))
		})
	}
	assert.Equal(t, ProjectName("/home/a/shop", ""), ProjectName("/home/a/shop/", ""), "stable for the same dir")
	assert.NotEqual(t, ProjectName("/home/a/shop", ""), ProjectName("/home/b/shop", ""), "two checkouts named alike differ")
	long := ProjectName("/x", strings.Repeat("é", 500))
	assert.LessOrEqual(t, len(long), MaxProjectNameLen)
	assert.NoError(t, validateProjectName(long))
}

func TestInvalidProjectName(t *testing.T) {
	st := openTest(t, OpenOptions{})
	for _, name := range []string{"", strings.Repeat("x", MaxProjectNameLen+1), "a\nb", string([]byte{0xff})} {
		_, err := st.Project(name).Session()
		assert.ErrorIs(t, err, ErrInvalid, "name %q", name)
		assert.ErrorIs(t, st.Project(name).SaveSession(DefaultSession()), ErrInvalid, "name %q", name)
	}
}

func TestProjectsAndTouch(t *testing.T) {
	st := openTest(t, OpenOptions{})
	ps, err := st.Projects()
	require.NoError(t, err)
	assert.Empty(t, ps)

	require.NoError(t, st.Project("alpha").Touch("/src/alpha"))
	require.NoError(t, st.Project("beta").Touch("/src/beta"))
	require.NoError(t, st.Project("alpha").Touch("")) // alpha again: most recent, workdir kept

	ps, err = st.Projects()
	require.NoError(t, err)
	require.Len(t, ps, 2)
	assert.Equal(t, "alpha", ps[0].Name)
	assert.Equal(t, "/src/alpha", ps[0].Workdir)
	assert.Equal(t, "beta", ps[1].Name)
	assert.False(t, ps[0].LastOpened.Before(ps[1].LastOpened))
	assert.False(t, ps[0].Created.IsZero())

	info, err := st.Project("beta").Info()
	require.NoError(t, err)
	assert.Equal(t, "/src/beta", info.Workdir)
	_, err = st.Project("nope").Info()
	assert.ErrorIs(t, err, ErrNotFound)

	// A damaged info still lists the project.
	putRaw(t, st, "gamma", nil, keyMeta, []byte("{nope"))
	ps, err = st.Projects()
	require.NoError(t, err)
	assert.Len(t, ps, 3)

	require.NoError(t, st.DeleteProject("beta"))
	assert.ErrorIs(t, st.DeleteProject("beta"), ErrNotFound)
	ps, err = st.Projects()
	require.NoError(t, err)
	assert.Len(t, ps, 2)
}

func fullSession() Session {
	return Session{
		Mode:      "prod",
		Simulator: SimulatorSettings{Nodes: 9, Seed: 42, FaultPreset: "flaky-net"},
		ConnectionProfiles: []Profile{
			{Name: "prod", Seeds: []string{"10.0.0.1:7946", "10.0.0.2:7946"}, Label: "prod", Profile: "lan", KeySaved: true, Key: "c2VjcmV0"},
			{Name: "staging", Seeds: []string{"127.0.0.1:7946"}, Profile: "local"},
		},
		UI: UIState{
			View:       "processes",
			Selection:  "node-2/7",
			Filters:    map[string]string{"behavior": "echo", "node": "node-2"},
			Sort:       "mailbox",
			Desc:       true,
			Pins:       Pins{Processes: []string{"node-1/3"}, Names: []string{"svc"}, ByName: map[string]string{"svc": "node-2/9"}},
			PanelSizes: map[string]float64{"left": 0.25, "bottom": 180},
			OpenTraces: []string{"t1"},
		},
		RecentClusters: []RecentCluster{{Profile: "prod", Seeds: []string{"10.0.0.1:7946"}, LastUsed: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
	}
}

func TestSessionRoundTrip(t *testing.T) {
	keyDropped := fullSession()
	keyDropped.ConnectionProfiles[0].KeySaved = false
	wantKeyDropped := keyDropped.Clone()
	wantKeyDropped.ConnectionProfiles[0].Key = ""

	tests := []struct {
		name string
		in   Session
		want Session
	}{
		{"default", DefaultSession(), DefaultSession()},
		{"full", fullSession(), fullSession()},
		{"key kept only if asked", keyDropped, wantKeyDropped},
		{"empty mode is the simulator", Session{UI: UIState{View: "health"}}, Session{Mode: ModeSimulator, UI: UIState{View: "health", Filters: map[string]string{}, PanelSizes: map[string]float64{}}}},
	}
	st := openTest(t, OpenOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := st.Project("rt-" + tt.name)
			require.NoError(t, p.SaveSession(tt.in))
			got, err := p.Session()
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	// A project never written returns the default session.
	got, err := st.Project("fresh").Session()
	require.NoError(t, err)
	assert.Equal(t, DefaultSession(), got)

	// Survives a reopen.
	dir := filepath.Dir(st.Path())
	require.NoError(t, st.Close())
	st2 := openTest(t, OpenOptions{DataDir: dir})
	got, err = st2.Project("rt-full").Session()
	require.NoError(t, err)
	assert.Equal(t, fullSession(), got)
}

func TestSessionValidate(t *testing.T) {
	mod := func(f func(*Session)) Session {
		s := fullSession()
		f(&s)
		return s
	}
	tests := []struct {
		name    string
		s       Session
		wantErr string
	}{
		{"ok", fullSession(), ""},
		{"unknown mode", mod(func(s *Session) { s.Mode = "nowhere" }), `mode "nowhere"`},
		{"duplicate profile", mod(func(s *Session) { s.ConnectionProfiles[1].Name = "prod" }), "used twice"},
		{"profile named simulator", mod(func(s *Session) { s.ConnectionProfiles[1].Name = ModeSimulator }), "simulator's mode"},
		{"nameless profile", mod(func(s *Session) { s.ConnectionProfiles[1].Name = " " }), "has no name"},
		{"too many nodes", mod(func(s *Session) { s.Simulator.Nodes = 5000 }), "simulator.nodes"},
		{"NaN panel", mod(func(s *Session) { s.UI.PanelSizes["x"] = nan() }), "is not a size"},
		{"huge view", mod(func(s *Session) { s.UI.View = strings.Repeat("v", maxStringLen+1) }), "ui.view is"},
		{"bad utf8", mod(func(s *Session) { s.UI.Sort = string([]byte{0xff}) }), "not valid UTF-8"},
		{"too many pins", mod(func(s *Session) { s.UI.Pins.Names = make([]string, maxPins+1) }), "ui.pins.names has"},
	}
	st := openTest(t, OpenOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			saveErr := st.Project("v").SaveSession(tt.s)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				assert.NoError(t, saveErr)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.ErrorIs(t, saveErr, ErrInvalid)
		})
	}
}

func nan() float64 { return math.NaN() }

func TestSessionStoredValueProblems(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantErr error
		wantMsg string
	}{
		{"not JSON", `{"version":1,"data":{`, ErrCorrupt, `project "p" key "session" is not valid JSON`},
		{"garbage bytes", "\x00\x01\x02", ErrCorrupt, `key "session"`},
		{"no version", `{"data":{"mode":"simulator"}}`, ErrCorrupt, "no valid version"},
		{"negative version", `{"version":-3,"data":{}}`, ErrCorrupt, "no valid version"},
		{"no data", `{"version":1}`, ErrCorrupt, "has no data"},
		{"null data", `{"version":1,"data":null}`, ErrCorrupt, "has no data"},
		{"data of the wrong shape", `{"version":1,"data":{"mode":17}}`, ErrCorrupt, "cannot decode version 1 data"},
		{"inconsistent content", `{"version":1,"data":{"mode":"ghost"}}`, ErrCorrupt, `mode "ghost"`},
		{"newer version", `{"version":99,"data":{"mode":"simulator","hologram":true}}`, ErrNewerVersion, "has version 99, this clusterlab reads up to version 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openTest(t, OpenOptions{})
			putRaw(t, st, "p", nil, keySession, []byte(tt.raw))
			_, err := st.Project("p").Session()
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.Contains(t, err.Error(), `project "p"`, "the error names the project")

			saveErr := st.Project("p").SaveSession(DefaultSession())
			if errors.Is(tt.wantErr, ErrNewerVersion) {
				assert.ErrorIs(t, saveErr, ErrNewerVersion, "a newer value is not overwritten")
			} else {
				require.NoError(t, saveErr, "a damaged value can be replaced")
				_, err := st.Project("p").Session()
				assert.NoError(t, err)
			}
		})
	}
}

func TestMigrations(t *testing.T) {
	// A schema at version 3 whose shape changed twice: v1 {"n": "5"}
	// (a string), v2 {"n": 5}, v3 {"count": 5, "unit": "nodes"}.
	sc := &schema{kind: "test value", version: 3, maxBytes: MaxRecordBytes, migrations: map[int]Migration{
		1: func(d json.RawMessage) (json.RawMessage, error) {
			var v1 struct{ N string }
			if err := json.Unmarshal(d, &v1); err != nil {
				return nil, err
			}
			var n int
			if _, err := fmt.Sscan(v1.N, &n); err != nil {
				return nil, fmt.Errorf("n %q is not a number", v1.N)
			}
			return json.Marshal(map[string]int{"n": n})
		},
		2: func(d json.RawMessage) (json.RawMessage, error) {
			var v2 struct{ N int }
			if err := json.Unmarshal(d, &v2); err != nil {
				return nil, err
			}
			return json.Marshal(map[string]any{"count": v2.N, "unit": "nodes"})
		},
	}}
	type v3 struct {
		Count int    `json:"count"`
		Unit  string `json:"unit"`
	}
	tests := []struct {
		name    string
		raw     string
		want    v3
		wantErr error
		wantMsg string
	}{
		{"from v1", `{"version":1,"data":{"n":"5"}}`, v3{5, "nodes"}, nil, ""},
		{"from v2", `{"version":2,"data":{"n":7}}`, v3{7, "nodes"}, nil, ""},
		{"current", `{"version":3,"data":{"count":9,"unit":"pods"}}`, v3{9, "pods"}, nil, ""},
		{"newer", `{"version":4,"data":{}}`, v3{}, ErrNewerVersion, "version 4"},
		{"migration fails", `{"version":1,"data":{"n":"five"}}`, v3{}, ErrCorrupt, "migrating version 1 to 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got v3
			err := sc.decode([]byte(tt.raw), "test key", &got)
			if tt.wantErr != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), tt.wantMsg)
				assert.Contains(t, err.Error(), "test key")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	// A missing link in the chain is an error, not a skip.
	gap := &schema{kind: "gappy", version: 3, maxBytes: MaxRecordBytes, migrations: map[int]Migration{1: sc.migrations[1]}}
	var got v3
	err := gap.decode([]byte(`{"version":1,"data":{"n":"1"}}`), "k", &got)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "no migration from version 2 to 3")

	// A migration producing garbage is caught.
	bad := &schema{kind: "bad", version: 2, maxBytes: MaxRecordBytes, migrations: map[int]Migration{
		1: func(json.RawMessage) (json.RawMessage, error) { return json.RawMessage("{oops"), nil },
	}}
	err = bad.decode([]byte(`{"version":1,"data":{}}`), "k", &got)
	assert.ErrorIs(t, err, ErrCorrupt)

	// Encode writes the current version.
	b, err := sc.encode(v3{1, "x"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":3,"data":{"count":1,"unit":"x"}}`, string(b))

	// Oversized values are refused both ways.
	small := &schema{kind: "small", version: 1, maxBytes: 32}
	_, err = small.encode(strings.Repeat("x", 64))
	assert.ErrorIs(t, err, ErrInvalid)
	err = small.decode([]byte(`{"version":1,"data":"`+strings.Repeat("x", 64)+`"}`), "k", new(string))
	assert.ErrorIs(t, err, ErrCorrupt)
}

func TestHistory(t *testing.T) {
	st := openTest(t, OpenOptions{MaxHistory: 5})
	p := st.Project("h")
	h, err := p.History(0)
	require.NoError(t, err)
	assert.Empty(t, h)

	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 8 {
		require.NoError(t, p.AppendHistory(OperationRecord{
			Time:       at.Add(time.Duration(i) * time.Second),
			Operation:  "kill_process",
			Params:     map[string]any{"pid": fmt.Sprintf("node-1/%d", i), "reason": "killed"},
			OK:         i%2 == 0,
			Error:      map[bool]string{true: "", false: "not found"}[i%2 == 0],
			DurationMS: 1.5,
		}))
	}
	h, err = p.History(0)
	require.NoError(t, err)
	require.Len(t, h, 5, "bounded to MaxHistory")
	assert.Equal(t, uint64(8), h[0].ID, "newest first")
	assert.Equal(t, uint64(4), h[4].ID, "oldest dropped")
	assert.Equal(t, "node-1/7", h[0].Params["pid"])
	assert.Equal(t, at.Add(7*time.Second), h[0].Time)
	assert.False(t, h[0].OK)
	assert.Equal(t, "not found", h[0].Error)
	assert.Equal(t, 1.5, h[0].DurationMS)

	h, err = p.History(2)
	require.NoError(t, err)
	assert.Len(t, h, 2)

	// Defaults and limits.
	require.NoError(t, p.AppendHistory(OperationRecord{Operation: "heal", Error: strings.Repeat("é", maxErrorLen)}))
	h, err = p.History(1)
	require.NoError(t, err)
	assert.False(t, h[0].Time.IsZero(), "zero time becomes now")
	assert.LessOrEqual(t, len(h[0].Error), maxErrorLen+len("…"))
	assert.True(t, strings.HasSuffix(h[0].Error, "…"))

	for _, bad := range []OperationRecord{
		{Operation: ""},
		{Operation: strings.Repeat("x", maxOperationLen+1)},
		{Operation: "spawn", Params: map[string]any{"args": strings.Repeat("x", MaxRecordBytes)}},
		{Operation: "spawn", Params: map[string]any{"f": func() {}}},
	} {
		assert.ErrorIs(t, p.AppendHistory(bad), ErrInvalid)
	}

	// A damaged record is reported, naming its key, and the others still come back.
	putRaw(t, st, "h", bucketHistory, seqKey(1000), []byte(`{"version":1,"data":[`))
	h, err = p.History(0)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), `bucket "history" key 1000`)
	assert.Len(t, h, 5, "the readable records are returned with the error")
}

func TestTraces(t *testing.T) {
	st := openTest(t, OpenOptions{MaxTraces: 3, MaxTraceBytes: 1024})
	p := st.Project("t")
	for i := range 4 {
		require.NoError(t, p.SaveTrace(fmt.Sprintf("trace-%d", i), json.RawMessage(fmt.Sprintf(`{"events":[%d]}`, i))))
	}
	ts, err := p.Traces()
	require.NoError(t, err)
	require.Len(t, ts, 3, "bounded to MaxTraces")
	assert.Equal(t, "trace-3", ts[0].Name)
	assert.Equal(t, "trace-1", ts[2].Name)
	assert.JSONEq(t, `{"events":[3]}`, string(ts[0].Data))

	// Saving under an existing name replaces it and makes it the newest.
	require.NoError(t, p.SaveTrace("trace-1", json.RawMessage(`{"events":[1,1]}`)))
	ts, err = p.Traces()
	require.NoError(t, err)
	require.Len(t, ts, 3)
	assert.Equal(t, "trace-1", ts[0].Name)
	tr, err := p.Trace("trace-1")
	require.NoError(t, err)
	assert.JSONEq(t, `{"events":[1,1]}`, string(tr.Data))

	require.NoError(t, p.DeleteTrace("trace-2"))
	assert.ErrorIs(t, p.DeleteTrace("trace-2"), ErrNotFound)
	_, err = p.Trace("trace-2")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = st.Project("other").Trace("x")
	assert.ErrorIs(t, err, ErrNotFound)

	assert.ErrorIs(t, p.SaveTrace("big", json.RawMessage(`"`+strings.Repeat("x", 2048)+`"`)), ErrInvalid)
	assert.ErrorIs(t, p.SaveTrace("bad", json.RawMessage(`{nope`)), ErrInvalid)
	assert.ErrorIs(t, p.SaveTrace("", json.RawMessage(`{}`)), ErrInvalid)
}

func TestAlerts(t *testing.T) {
	st := openTest(t, OpenOptions{MaxAlerts: 3})
	p := st.Project("a")
	alert := func(id, state string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"id":%q,"state":%q,"severity":"warning","node":"node-3","evidence":{"cpu":95.5}}`, id, state))
	}
	for i := range 4 {
		require.NoError(t, p.AppendAlert(alert(fmt.Sprintf("a%d", i), "raised")))
	}
	as, err := p.Alerts(0)
	require.NoError(t, err)
	require.Len(t, as, 3, "bounded to MaxAlerts")
	assert.JSONEq(t, string(alert("a3", "raised")), string(as[0]))
	assert.ErrorIs(t, p.UpdateAlert("a0", "acknowledged"), ErrNotFound, "a dropped alert is gone from the index too")

	require.NoError(t, p.UpdateAlert("a2", "acknowledged"))
	require.NoError(t, p.UpdateAlert("a2", "resolved"))
	as, err = p.Alerts(0)
	require.NoError(t, err)
	var a2 map[string]any
	require.NoError(t, json.Unmarshal(as[1], &a2))
	assert.Equal(t, "resolved", a2["state"])
	assert.Equal(t, "node-3", a2["node"], "other fields kept")
	assert.Equal(t, map[string]any{"cpu": 95.5}, a2["evidence"])

	// Appending a kept id replaces it in place.
	require.NoError(t, p.AppendAlert(alert("a1", "resolved")))
	as, err = p.Alerts(0)
	require.NoError(t, err)
	require.Len(t, as, 3)
	assert.JSONEq(t, string(alert("a1", "resolved")), string(as[2]))

	as, err = p.Alerts(1)
	require.NoError(t, err)
	assert.Len(t, as, 1)

	for _, bad := range []string{``, `[]`, `"x"`, `{}`, `{"id":"x"}`, `{"id":3,"state":"raised"}`, `{"id":"","state":"raised"}`, `{"id":"x","state":"raised"`} {
		assert.ErrorIs(t, p.AppendAlert(json.RawMessage(bad)), ErrInvalid, "alert %s", bad)
	}
	assert.ErrorIs(t, p.UpdateAlert("", "x"), ErrInvalid)
	assert.ErrorIs(t, st.Project("none").UpdateAlert("x", "resolved"), ErrNotFound)
}

func TestConcurrentWriters(t *testing.T) {
	st := openTest(t, OpenOptions{MaxHistory: 10000})
	p := st.Project("c")
	const writers, each = 4, 25
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				if err := p.AppendHistory(OperationRecord{Operation: "send", Params: map[string]any{"w": w, "i": i}}); err != nil {
					errs <- err
					return
				}
				s, err := p.Session()
				if err != nil {
					errs <- err
					return
				}
				s.UI.Filters[fmt.Sprint("w", w)] = fmt.Sprint(i)
				if err := p.SaveSession(s); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		select {
		case err := <-errs:
			require.NoError(t, err)
		case <-time.After(60 * time.Second):
			t.Fatal("writers did not finish")
		}
	}
	h, err := p.History(0)
	require.NoError(t, err)
	assert.Len(t, h, writers*each)
	seen := map[uint64]bool{}
	for _, r := range h {
		assert.False(t, seen[r.ID], "ids are unique")
		seen[r.ID] = true
	}
}
