package cluster

import (
	"encoding/json"
	"fmt"
	"time"
)

// The registry's decisions, as pure functions over plain data: which entry
// a node keeps for a name when two meet, and who wins a conflict. Every
// node applies the same rules to the same data, so after a partition heals
// all of them settle on one winner without talking it over.

// regEntry is one name binding, live or deleted (a tombstone).
type regEntry struct {
	Name         string    `json:"n"`
	PID          PID       `json:"p"`
	RegisteredAt time.Time `json:"t"`
	Version      uint64    `json:"v"`
	Deleted      bool      `json:"d,omitempty"`
}

// Conflict rules, as recorded in RegistryConflict.Rule.
const (
	RuleEarliest = "earliest registration wins"
	RuleLowerPID = "same registration time: lower pid wins"
)

// mergeBinding decides which version of one binding (a name bound to one
// PID) a node keeps: the higher version wins, and on equal versions the
// deletion. Bindings of a name to different PIDs are kept side by side, so
// that a late copy of a binding that was deleted meets its own deletion
// and not a newer binding of the name.
func mergeBinding(local regEntry, hasLocal bool, in regEntry) (keep regEntry, changed bool) {
	if !hasLocal {
		return in, true
	}
	if in.Version > local.Version || (in.Version == local.Version && in.Deleted && !local.Deleted) {
		return in, true
	}
	return local, false
}

// holder picks, among the live bindings of one name, the one that holds
// it; the others lose a conflict under rule. Every node applies the same
// order, so all of them agree.
func holder(live []regEntry) (winner regEntry, losers []regEntry, rule string) {
	if len(live) == 0 {
		return regEntry{}, nil, ""
	}
	winner = live[0]
	for _, e := range live[1:] {
		w, l, r := resolveConflict(winner, e)
		winner = w
		losers = append(losers, l)
		rule = r
	}
	if len(losers) > 1 {
		// Re-check each loser against the final winner for its own rule.
		rule = ""
		for _, l := range losers {
			_, _, r := resolveConflict(winner, l)
			if rule == "" || r == RuleEarliest {
				rule = r
			}
		}
	}
	return winner, losers, rule
}

// resolveConflict orders two live registrations of one name.
func resolveConflict(a, b regEntry) (winner, loser regEntry, rule string) {
	switch c := a.RegisteredAt.Compare(b.RegisteredAt); {
	case c < 0:
		return a, b, RuleEarliest
	case c > 0:
		return b, a, RuleEarliest
	}
	if comparePID(a.PID, b.PID) < 0 {
		return a, b, RuleLowerPID
	}
	return b, a, RuleLowerPID
}

// Limits on registry bytes from the network.
const (
	// MaxNameLen bounds a registered name.
	MaxNameLen = 255
	// maxRegistryEntries bounds a registry snapshot.
	maxRegistryEntries = 1 << 20
	registryVersion    = 1
)

// validName checks a registry name.
func validName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("registry name must be 1..%d bytes, got %d", MaxNameLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < ' ' || c == 0x7f {
			return fmt.Errorf("registry name %q has a control character at %d", name, i)
		}
	}
	return nil
}

func (e regEntry) validate() error {
	if err := validName(e.Name); err != nil {
		return err
	}
	if err := ValidateNodeName(e.PID.Node); err != nil || e.PID.ID == 0 {
		return fmt.Errorf("registry entry %q: bad pid %q", e.Name, e.PID)
	}
	return nil
}

type registryDelta struct {
	V int      `json:"v"`
	E regEntry `json:"e"`
}

type registrySnapshot struct {
	V int        `json:"v"`
	E []regEntry `json:"e"`
}

func encodeRegistryDelta(e regEntry) []byte {
	b, _ := json.Marshal(registryDelta{V: registryVersion, E: e})
	return b
}

// decodeRegistryDelta decodes one entry from the network.
func decodeRegistryDelta(b []byte) (regEntry, error) {
	var d registryDelta
	if err := json.Unmarshal(b, &d); err != nil {
		return regEntry{}, fmt.Errorf("%w: registry delta: %v", ErrBadFrame, err)
	}
	if d.V != registryVersion {
		return regEntry{}, fmt.Errorf("%w: registry delta version %d", ErrBadFrame, d.V)
	}
	if err := d.E.validate(); err != nil {
		return regEntry{}, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	return d.E, nil
}

func encodeRegistrySnapshot(es []regEntry) []byte {
	b, _ := json.Marshal(registrySnapshot{V: registryVersion, E: es})
	return b
}

// decodeRegistrySnapshot decodes a whole registry from the network.
func decodeRegistrySnapshot(b []byte) ([]regEntry, error) {
	if len(b) > maxSnapshot {
		return nil, fmt.Errorf("%w: registry snapshot of %d bytes", ErrBadFrame, len(b))
	}
	var s registrySnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: registry snapshot: %v", ErrBadFrame, err)
	}
	if s.V != registryVersion {
		return nil, fmt.Errorf("%w: registry snapshot version %d", ErrBadFrame, s.V)
	}
	if len(s.E) > maxRegistryEntries {
		return nil, fmt.Errorf("%w: registry snapshot of %d entries", ErrBadFrame, len(s.E))
	}
	for _, e := range s.E {
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadFrame, err)
		}
	}
	return s.E, nil
}
