package session

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// ModeSimulator is the Session.Mode of the embedded simulator; any other
// mode is the name of a connection profile.
const ModeSimulator = "simulator"

// Bounds a Session must respect to be saved (and that a read enforces
// too, the file being untrusted).
const (
	maxProfiles       = 100
	maxSeeds          = 64
	maxMapEntries     = 200
	maxPins           = 1000
	maxRecentClusters = 20
	maxOpenTraces     = 100
	maxStringLen      = 4096
	maxSimNodes       = 1000
)

// Session is what a project remembers between runs: the mode it was in,
// the simulator's settings, its connection profiles, the UI's state and
// the clusters recently connected to. Operation history, saved traces and
// alerts are kept beside it (Project.History, Traces, Alerts).
type Session struct {
	// Mode is ModeSimulator or the Name of one of ConnectionProfiles.
	Mode string `json:"mode"`
	// Simulator holds the embedded simulator's settings.
	Simulator SimulatorSettings `json:"simulator"`
	// ConnectionProfiles are the real clusters this project connects to.
	ConnectionProfiles []Profile `json:"connection_profiles,omitempty"`
	// UI is the window's state, restored on launch.
	UI UIState `json:"ui"`
	// RecentClusters lists the clusters connected to, most recent first.
	RecentClusters []RecentCluster `json:"recent_clusters,omitempty"`
}

// SimulatorSettings configures the embedded simulator.
type SimulatorSettings struct {
	// Nodes is the number of virtual nodes (1..1000).
	Nodes int `json:"nodes"`
	// Seed seeds the simulated network.
	Seed int64 `json:"seed"`
	// FaultPreset names a fault preset to apply at start, empty for none.
	FaultPreset string `json:"fault_preset,omitempty"`
}

// Profile is a connection profile: how to join a real cluster.
type Profile struct {
	// Name identifies the profile (unique in a session).
	Name string `json:"name"`
	// Seeds are host:port addresses of members to join through.
	Seeds []string `json:"seeds"`
	// Label is the memberlist label the cluster uses, if any.
	Label string `json:"label,omitempty"`
	// Profile is the membership profile: "lan", "local" or "sim".
	Profile string `json:"profile,omitempty"`
	// KeySaved says the user asked to store the gossip key; when false,
	// Key is never written (SaveSession clears it).
	KeySaved bool `json:"key_saved,omitempty"`
	// Key is the gossip encryption key (base64), kept only if KeySaved.
	Key string `json:"key,omitempty"`
}

// UIState is the window's state.
type UIState struct {
	// View is the current page ("topology", "processes", ...).
	View string `json:"view,omitempty"`
	// Selection is the selected object (a node name, a pid, a name).
	Selection string `json:"selection,omitempty"`
	// Filters are the list filters, by field.
	Filters map[string]string `json:"filters,omitempty"`
	// Sort is the field lists are sorted by; Desc reverses it.
	Sort string `json:"sort,omitempty"`
	// Desc sorts descending.
	Desc bool `json:"desc,omitempty"`
	// Pins are the pinned processes and names.
	Pins Pins `json:"pins"`
	// PanelSizes are the panels' sizes (fractions or pixels), by panel.
	PanelSizes map[string]float64 `json:"panel_sizes,omitempty"`
	// OpenTraces are the saved traces open in the UI, by name.
	OpenTraces []string `json:"open_traces,omitempty"`
}

// Pins are the processes the user pinned. A pin by registered name
// follows the name: ByName records the pid the name resolves to in the
// current mode, and that pid is in Processes. A pin by pid names a
// process of one cluster: after a mode switch it is kept but listed in
// Stale until the session is back in the mode it was pinned in.
type Pins struct {
	// Processes are the pinned pids ("node/id"), in pin order.
	Processes []string `json:"processes,omitempty"`
	// Names are the pinned registered names.
	Names []string `json:"names,omitempty"`
	// ByName maps a pinned name to the pid it resolves to in the current
	// mode (absent when it does not resolve there).
	ByName map[string]string `json:"by_name,omitempty"`
	// Stale lists the pinned pids that do not exist in the current mode.
	Stale []string `json:"stale,omitempty"`
	// Origins maps a pinned pid to the mode it was pinned in (filled in
	// by SwitchMode for pins that do not say).
	Origins map[string]string `json:"origins,omitempty"`
}

// RecentCluster is a cluster recently connected to.
type RecentCluster struct {
	// Profile is the connection profile's name.
	Profile string `json:"profile"`
	// Seeds are the addresses used.
	Seeds []string `json:"seeds,omitempty"`
	// LastUsed is when it was last connected to.
	LastUsed time.Time `json:"last_used"`
}

// DefaultSession is the session of a project opened for the first time:
// the simulator with 5 nodes, seed 1, on the topology view.
func DefaultSession() Session {
	return Session{
		Mode:      ModeSimulator,
		Simulator: SimulatorSettings{Nodes: 5, Seed: 1},
		UI:        UIState{View: "topology", Filters: map[string]string{}, PanelSizes: map[string]float64{}},
	}
}

// NoteRecentCluster returns s with rc first in RecentClusters (replacing
// an entry for the same profile), bounded to the 20 most recent.
func NoteRecentCluster(s Session, rc RecentCluster) Session {
	out := s.Clone()
	list := []RecentCluster{rc}
	for _, old := range out.RecentClusters {
		if old.Profile != rc.Profile {
			list = append(list, old)
		}
	}
	if len(list) > maxRecentClusters {
		list = list[:maxRecentClusters]
	}
	out.RecentClusters = list
	return out
}

// Clone returns a deep copy of s.
func (s Session) Clone() Session {
	out := s
	out.ConnectionProfiles = nil
	for _, p := range s.ConnectionProfiles {
		p.Seeds = append([]string(nil), p.Seeds...)
		out.ConnectionProfiles = append(out.ConnectionProfiles, p)
	}
	out.RecentClusters = nil
	for _, rc := range s.RecentClusters {
		rc.Seeds = append([]string(nil), rc.Seeds...)
		out.RecentClusters = append(out.RecentClusters, rc)
	}
	out.UI.Filters = cloneMap(s.UI.Filters)
	out.UI.PanelSizes = cloneMap(s.UI.PanelSizes)
	out.UI.OpenTraces = append([]string(nil), s.UI.OpenTraces...)
	out.UI.Pins = Pins{
		Processes: append([]string(nil), s.UI.Pins.Processes...),
		Names:     append([]string(nil), s.UI.Pins.Names...),
		ByName:    cloneMap(s.UI.Pins.ByName),
		Stale:     append([]string(nil), s.UI.Pins.Stale...),
		Origins:   cloneMap(s.UI.Pins.Origins),
	}
	return out
}

func cloneMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Validate checks s against the store's bounds and its own consistency
// (Mode names the simulator or a profile; profile names are unique).
func (s Session) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	str := func(field, v string) {
		if len(v) > maxStringLen {
			bad("%s is %d bytes, above %d", field, len(v), maxStringLen)
		} else if !utf8.ValidString(v) {
			bad("%s is not valid UTF-8", field)
		}
	}
	list := func(field string, vs []string, max int) {
		if len(vs) > max {
			bad("%s has %d entries, above %d", field, len(vs), max)
			return
		}
		for i, v := range vs {
			str(fmt.Sprintf("%s[%d]", field, i), v)
		}
	}
	smap := func(field string, m map[string]string) {
		if len(m) > maxMapEntries {
			bad("%s has %d entries, above %d", field, len(m), maxMapEntries)
			return
		}
		for k, v := range m {
			str(field+" key", k)
			str(fmt.Sprintf("%s[%q]", field, k), v)
		}
	}

	str("mode", s.Mode)
	if s.Simulator.Nodes < 0 || s.Simulator.Nodes > maxSimNodes {
		bad("simulator.nodes %d is outside 0..%d", s.Simulator.Nodes, maxSimNodes)
	}
	str("simulator.fault_preset", s.Simulator.FaultPreset)
	if len(s.ConnectionProfiles) > maxProfiles {
		bad("connection_profiles has %d entries, above %d", len(s.ConnectionProfiles), maxProfiles)
	}
	names := map[string]bool{}
	for i, p := range s.ConnectionProfiles {
		field := fmt.Sprintf("connection_profiles[%d]", i)
		switch {
		case strings.TrimSpace(p.Name) == "":
			bad("%s has no name", field)
		case p.Name == ModeSimulator:
			bad("%s is named %q, which is the simulator's mode", field, p.Name)
		case names[p.Name]:
			bad("%s: the name %q is used twice", field, p.Name)
		}
		names[p.Name] = true
		str(field+".name", p.Name)
		list(field+".seeds", p.Seeds, maxSeeds)
		str(field+".label", p.Label)
		str(field+".profile", p.Profile)
		str(field+".key", p.Key)
	}
	if s.Mode != ModeSimulator && s.Mode != "" && !names[s.Mode] {
		bad("mode %q is neither %q nor the name of a connection profile", s.Mode, ModeSimulator)
	}
	str("ui.view", s.UI.View)
	str("ui.selection", s.UI.Selection)
	str("ui.sort", s.UI.Sort)
	smap("ui.filters", s.UI.Filters)
	if len(s.UI.PanelSizes) > maxMapEntries {
		bad("ui.panel_sizes has %d entries, above %d", len(s.UI.PanelSizes), maxMapEntries)
	}
	for k, v := range s.UI.PanelSizes {
		str("ui.panel_sizes key", k)
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			bad("ui.panel_sizes[%q] = %v is not a size", k, v)
		}
	}
	list("ui.open_traces", s.UI.OpenTraces, maxOpenTraces)
	list("ui.pins.processes", s.UI.Pins.Processes, maxPins)
	list("ui.pins.names", s.UI.Pins.Names, maxPins)
	list("ui.pins.stale", s.UI.Pins.Stale, maxPins)
	if len(s.UI.Pins.ByName) > maxPins {
		bad("ui.pins.by_name has %d entries, above %d", len(s.UI.Pins.ByName), maxPins)
	} else {
		for k, v := range s.UI.Pins.ByName {
			str("ui.pins.by_name key", k)
			str("ui.pins.by_name value", v)
		}
	}
	if len(s.UI.Pins.Origins) > maxPins {
		bad("ui.pins.origins has %d entries, above %d", len(s.UI.Pins.Origins), maxPins)
	} else {
		for k, v := range s.UI.Pins.Origins {
			str("ui.pins.origins key", k)
			str("ui.pins.origins value", v)
		}
	}
	if len(s.RecentClusters) > maxRecentClusters {
		bad("recent_clusters has %d entries, above %d", len(s.RecentClusters), maxRecentClusters)
	}
	for i, rc := range s.RecentClusters {
		str(fmt.Sprintf("recent_clusters[%d].profile", i), rc.Profile)
		list(fmt.Sprintf("recent_clusters[%d].seeds", i), rc.Seeds, maxSeeds)
	}
	if len(errs) > 0 {
		if len(errs) > 5 {
			errs = append(errs[:5], fmt.Sprintf("and %d more", len(errs)-5))
		}
		return fmt.Errorf("%w: session: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

// Session returns the project's saved session, DefaultSession() when none
// was saved. A damaged value is an ErrCorrupt error naming the key; a
// value from a newer clusterlab is ErrNewerVersion.
func (p *Project) Session() (Session, error) {
	s := DefaultSession()
	found := false
	err := p.read(func(b *bolt.Bucket) error {
		if b == nil {
			return nil
		}
		raw := b.Get(keySession)
		if raw == nil {
			return nil
		}
		found = true
		var got Session
		if err := schemaSession.decode(raw, where(p.name, keySession), &got); err != nil {
			return err
		}
		s = got
		return nil
	})
	if err != nil {
		return Session{}, fmt.Errorf("session: read session of project %q: %w", p.name, err)
	}
	if found {
		if err := s.Validate(); err != nil {
			return Session{}, fmt.Errorf("session: read session of project %q: %w: %v", p.name, ErrCorrupt, err)
		}
		if s.UI.Filters == nil {
			s.UI.Filters = map[string]string{}
		}
		if s.UI.PanelSizes == nil {
			s.UI.PanelSizes = map[string]float64{}
		}
	}
	return s, nil
}

// SaveSession validates s and stores it atomically. Profile keys are kept
// only where KeySaved is set. A stored session from a newer clusterlab is
// not overwritten (ErrNewerVersion).
func (p *Project) SaveSession(s Session) error {
	s = s.Clone()
	if s.Mode == "" {
		s.Mode = ModeSimulator
	}
	for i := range s.ConnectionProfiles {
		if !s.ConnectionProfiles[i].KeySaved {
			s.ConnectionProfiles[i].Key = ""
		}
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("session: save session of project %q: %w", p.name, err)
	}
	raw, err := schemaSession.encode(s)
	if err != nil {
		return fmt.Errorf("session: save session of project %q: %w", p.name, err)
	}
	err = p.write(func(b *bolt.Bucket, _ time.Time) error {
		if old := b.Get(keySession); old != nil {
			if err := refuseNewer(schemaSession, old, where(p.name, keySession)); err != nil {
				return err
			}
		}
		return b.Put(keySession, raw)
	})
	if err != nil {
		return fmt.Errorf("session: save session of project %q: %w", p.name, err)
	}
	return nil
}

// refuseNewer returns ErrNewerVersion when raw holds a version above the
// schema's, so a write does not destroy a newer clusterlab's data. A
// damaged old value may be overwritten.
func refuseNewer(sc *schema, raw []byte, at string) error {
	if _, err := sc.upgrade(raw, at); errors.Is(err, ErrNewerVersion) {
		return err
	}
	return nil
}
