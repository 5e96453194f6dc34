package session

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lookupIn returns a name resolver over a fixed registry.
func lookupIn(reg map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		pid, ok := reg[name]
		return pid, ok
	}
}

func simSession() Session {
	s := DefaultSession()
	s.ConnectionProfiles = []Profile{{Name: "prod", Seeds: []string{"10.0.0.1:7946"}}}
	s.UI.View = "processes"
	s.UI.Filters = map[string]string{"behavior": "echo"}
	s.UI.Sort, s.UI.Desc = "mailbox", true
	s.UI.PanelSizes = map[string]float64{"left": 0.3}
	s.UI.OpenTraces = []string{"slow-call"}
	s.UI.Pins = Pins{
		Processes: []string{"node-1/3", "node-2/9"},
		Names:     []string{"svc", "db"},
		ByName:    map[string]string{"svc": "node-2/9"},
	}
	return s
}

func TestSwitchMode(t *testing.T) {
	tests := []struct {
		name     string
		in       Session
		newMode  string
		names    map[string]string
		wantPins Pins
		wantSel  string
		sel      string
	}{
		{
			name:    "names follow, pids go stale",
			in:      simSession(),
			newMode: "prod",
			names:   map[string]string{"svc": "10.0.0.5/77", "db": "10.0.0.6/2"},
			sel:     "node-2/9", // selected through the name svc
			wantSel: "10.0.0.5/77",
			wantPins: Pins{
				Processes: []string{"node-1/3", "10.0.0.5/77", "10.0.0.6/2"},
				Names:     []string{"svc", "db"},
				ByName:    map[string]string{"svc": "10.0.0.5/77", "db": "10.0.0.6/2"},
				Stale:     []string{"node-1/3"},
				Origins:   map[string]string{"node-1/3": ModeSimulator},
			},
		},
		{
			name:    "a name missing in the new mode stays pinned, unresolved",
			in:      simSession(),
			newMode: "prod",
			names:   map[string]string{"db": "10.0.0.6/2"},
			sel:     "node-1/3", // a pid of the old cluster
			wantSel: "",
			wantPins: Pins{
				Processes: []string{"node-1/3", "10.0.0.6/2"},
				Names:     []string{"svc", "db"},
				ByName:    map[string]string{"db": "10.0.0.6/2"},
				Stale:     []string{"node-1/3"},
				Origins:   map[string]string{"node-1/3": ModeSimulator},
			},
		},
		{
			name:    "no resolver",
			in:      simSession(),
			newMode: "prod",
			sel:     "svc", // a selected name stays
			wantSel: "svc",
			wantPins: Pins{
				Processes: []string{"node-1/3"},
				Names:     []string{"svc", "db"},
				Stale:     []string{"node-1/3"},
				Origins:   map[string]string{"node-1/3": ModeSimulator},
			},
		},
		{
			name: "back to the mode a pid was pinned in: no longer stale",
			in: func() Session {
				s := simSession()
				s.Mode = "prod"
				s.UI.Pins = Pins{
					Processes: []string{"node-1/3", "10.0.0.9/1", "10.0.0.5/77"},
					Names:     []string{"svc"},
					ByName:    map[string]string{"svc": "10.0.0.5/77"},
					Stale:     []string{"node-1/3"},
					Origins:   map[string]string{"node-1/3": ModeSimulator},
				}
				return s
			}(),
			newMode: ModeSimulator,
			names:   map[string]string{"svc": "node-2/9"},
			wantPins: Pins{
				Processes: []string{"node-1/3", "10.0.0.9/1", "node-2/9"},
				Names:     []string{"svc"},
				ByName:    map[string]string{"svc": "node-2/9"},
				Stale:     []string{"10.0.0.9/1"},
				Origins:   map[string]string{"node-1/3": ModeSimulator, "10.0.0.9/1": "prod"},
			},
		},
		{
			name:     "same mode changes nothing",
			in:       simSession(),
			newMode:  ModeSimulator,
			names:    map[string]string{"svc": "x/1"},
			sel:      "node-1/3",
			wantSel:  "node-1/3",
			wantPins: simSession().UI.Pins,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.UI.Selection = tt.sel
			before := in.Clone()
			var lookup func(string) (string, bool)
			if tt.names != nil {
				lookup = lookupIn(tt.names)
			}
			got := SwitchMode(in, tt.newMode, lookup)

			assert.Equal(t, tt.newMode, got.Mode)
			assert.Equal(t, tt.wantPins, got.UI.Pins, "pins")
			assert.Equal(t, tt.wantSel, got.UI.Selection, "selection")
			// The rest of the debugging session is kept.
			assert.Equal(t, in.UI.View, got.UI.View)
			assert.Equal(t, in.UI.Filters, got.UI.Filters)
			assert.Equal(t, in.UI.Sort, got.UI.Sort)
			assert.Equal(t, in.UI.Desc, got.UI.Desc)
			assert.Equal(t, in.UI.PanelSizes, got.UI.PanelSizes)
			assert.Equal(t, in.UI.OpenTraces, got.UI.OpenTraces)
			assert.Equal(t, in.Simulator, got.Simulator)
			assert.Equal(t, in.ConnectionProfiles, got.ConnectionProfiles)
			// Pure: the input is untouched.
			assert.Equal(t, before, in)
		})
	}
}

// TestSwitchModeKeepsStoredSession switches a stored session back and
// forth through the store: history and traces stay, pins follow names.
func TestSwitchModeKeepsStoredSession(t *testing.T) {
	st := openTest(t, OpenOptions{})
	p := st.Project("switch")
	require.NoError(t, p.SaveSession(simSession()))
	require.NoError(t, p.AppendHistory(OperationRecord{Operation: "node_crash", Params: map[string]any{"node": "node-3"}, OK: true}))
	require.NoError(t, p.SaveTrace("slow-call", []byte(`{"events":[]}`)))

	s, err := p.Session()
	require.NoError(t, err)
	require.NoError(t, p.SaveSession(SwitchMode(s, "prod", lookupIn(map[string]string{"svc": "10.0.0.5/77"}))))
	s, err = p.Session()
	require.NoError(t, err)
	assert.Equal(t, "prod", s.Mode)
	assert.Equal(t, map[string]string{"behavior": "echo"}, s.UI.Filters)
	assert.Equal(t, []string{"node-1/3"}, s.UI.Pins.Stale)
	assert.Equal(t, "10.0.0.5/77", s.UI.Pins.ByName["svc"])

	require.NoError(t, p.SaveSession(SwitchMode(s, ModeSimulator, lookupIn(map[string]string{"svc": "node-2/9", "db": "node-4/1"}))))
	s, err = p.Session()
	require.NoError(t, err)
	assert.Equal(t, ModeSimulator, s.Mode)
	assert.Empty(t, s.UI.Pins.Stale, "back home, the pid pin is live again")
	assert.Equal(t, []string{"node-1/3", "node-2/9", "node-4/1"}, s.UI.Pins.Processes)
	assert.Equal(t, []string{"slow-call"}, s.UI.OpenTraces)

	h, err := p.History(0)
	require.NoError(t, err)
	assert.Len(t, h, 1)
	ts, err := p.Traces()
	require.NoError(t, err)
	assert.Len(t, ts, 1)
}
