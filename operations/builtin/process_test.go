package builtin

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

// TestProcessListJSON checks that the rows of a list encode exactly as
// the page's ProcessInfo values do.
func TestProcessListJSON(t *testing.T) {
	full := cluster.ProcessInfo{
		PID: cluster.PID{Node: "n<1>", ID: 7}, Node: "n<1>", Name: "w \"1\"", Registered: []string{"svc", "é&"},
		Behavior: "echo", Status: cluster.StatusRunnable, Mailbox: 3, MailboxHighWater: 9, MessagesIn: 1 << 60, MessagesOut: 2,
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)),
		Links:     []cluster.PID{{Node: "a", ID: 1}}, Monitors: []cluster.PID{{Node: "b", ID: 2}}, Monitoring: []cluster.PID{{}},
		TrapExits: true, Labels: map[string]string{"z": "1", "a": "\u2028"},
	}
	tests := []struct {
		name string
		page cluster.ProcessPage
	}{
		{"empty", cluster.ProcessPage{Processes: []cluster.ProcessInfo{}}},
		{"minimal", cluster.ProcessPage{Total: 1, Processes: []cluster.ProcessInfo{{PID: cluster.PID{Node: "a", ID: 1}, Node: "a"}}}},
		{"full", cluster.ProcessPage{Total: 9, NextCursor: "abc", Processes: []cluster.ProcessInfo{full, full},
			Missing: []cluster.NodeError{{Node: "b", Code: cluster.CodeTimeout, Message: "late"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// What list_processes returned before rows: the page itself.
			checkProcessListJSON(t, tt.page)
		})
	}

	for _, at := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 24*3600)),
	} {
		page := cluster.ProcessPage{Processes: []cluster.ProcessInfo{{StartedAt: at}}}
		_, err := newProcessList(page)
		assert.Error(t, err, "a time json cannot encode: %v", at)
		_, err = ProcessList{Processes: page.Processes}.AppendJSON(nil)
		assert.Error(t, err, "AppendJSON checks too: %v", at)
	}
}

// checkProcessListJSON checks that a page's list writes the bytes that
// encoding/json writes for the page itself (what list_processes returned
// before ProcessList): json.Marshal (HTML escaped) and an Encoder with
// SetEscapeHTML(false) (the API's writer) against MarshalJSON and
// AppendJSON.
func checkProcessListJSON(t *testing.T, page cluster.ProcessPage) {
	t.Helper()
	want := struct {
		cluster.ProcessPage
		Missing []cluster.NodeError `json:"missing"`
	}{page, page.Missing}
	if want.Missing == nil {
		want.Missing = []cluster.NodeError{}
	}
	if want.Processes == nil {
		want.Processes = []cluster.ProcessInfo{}
	}
	wantJSON, wantErr := json.Marshal(want)
	l, err := newProcessList(page)
	if wantErr != nil {
		assert.Error(t, err, "encoding/json fails: %v", wantErr)
		return
	}
	require.NoError(t, err)
	got, err := json.Marshal(l)
	require.NoError(t, err)
	assert.Equal(t, string(wantJSON), string(got), "json.Marshal: same bytes")

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(want))
	appended, err := l.AppendJSON([]byte("prefix"))
	require.NoError(t, err)
	assert.Equal(t, "prefix"+buf.String(), string(appended)+"\n", "AppendJSON: same bytes as the unescaped encoder")
}

// FuzzProcessListJSON checks byte-identical JSON on arbitrary strings,
// counters and times.
func FuzzProcessListJSON(f *testing.F) {
	f.Add("n<1>", "w \"1\"\x00\t", "é&\u2028", "z", "\xff\u2029", uint64(7), int64(1<<62), 3600, true)
	f.Add("", "", "", "", "", uint64(0), int64(0), 0, false)
	f.Add("a", "b\\c/d", "<script>", "k\x7f", "v\x1f", uint64(1<<63), int64(-1<<62), -86399, false)
	f.Fuzz(func(t *testing.T, node, name, reg, key, value string, n uint64, nanos int64, offset int, trap bool) {
		info := cluster.ProcessInfo{
			PID: cluster.PID{Node: node, ID: n}, Node: node, Name: name, Registered: []string{reg, name},
			Behavior: key, Status: value, Mailbox: int(n >> 2), MailboxHighWater: -int(n >> 3), MessagesIn: n, MessagesOut: n / 3,
			StartedAt: time.Unix(0, nanos).In(time.FixedZone("z", offset%(48*3600))),
			Links:     []cluster.PID{{Node: name, ID: n}, {}}, Monitoring: []cluster.PID{{Node: reg}},
			TrapExits: trap, Labels: map[string]string{key: value, value: key, name: reg},
		}
		checkProcessListJSON(t, cluster.ProcessPage{Total: int(n >> 1), NextCursor: name, Processes: []cluster.ProcessInfo{info, {}},
			Missing: []cluster.NodeError{{Node: node, Code: key, State: value, Message: name}, {}}})
	})
}
