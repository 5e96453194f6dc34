package builtin

import (
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
			want := struct {
				cluster.ProcessPage
				Missing []cluster.NodeError `json:"missing"`
			}{tt.page, tt.page.Missing}
			if want.Missing == nil {
				want.Missing = []cluster.NodeError{}
			}
			wantJSON, err := json.Marshal(want)
			require.NoError(t, err)
			l, err := newProcessList(tt.page)
			require.NoError(t, err)
			got, err := json.Marshal(l)
			require.NoError(t, err)
			assert.JSONEq(t, string(wantJSON), string(got))
			assert.Equal(t, string(wantJSON), string(got), "same bytes")
		})
	}

	_, err := newProcessList(cluster.ProcessPage{Processes: []cluster.ProcessInfo{{StartedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}})
	assert.Error(t, err, "a year json cannot encode")
}
