package health

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// SetCollectorHook sets a function that runs at the start of each
// collector's round with the collector's name ("sampler",
// CollectorDistribution): tests and fault drills use it to inject a panic
// and watch the collector restart with its state. nil removes it. The
// function runs on the collector's goroutine and must not block.
func (m *Monitor) SetCollectorHook(fn func(collector string)) {
	if fn == nil {
		m.hook.Store(nil)
		return
	}
	m.hook.Store(&fn)
}

// Rules returns the rules the monitor evaluates.
func (m *Monitor) Rules() []Rule {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.engine.Rules()
}

// SetRules replaces the monitor's rules (nil: DefaultRules) while it runs.
// Rules kept by name keep their pending and firing state (the new
// threshold applies from the next collection); the active alerts of rules
// that are gone resolve. The baselines are kept. It fails, changing
// nothing, when a rule is invalid.
func (m *Monitor) SetRules(ctx context.Context, rules []Rule) error {
	if rules == nil {
		rules = DefaultRules()
	}
	engine, err := NewEngine(rules)
	if err != nil {
		return err
	}
	keep := make(map[string]bool, len(rules))
	for _, r := range rules {
		keep[r.Name] = true
	}
	// Not in the middle of a collection: Step must see one engine.
	m.tickMu.Lock()
	defer m.tickMu.Unlock()
	m.mu.Lock()
	old := m.engine
	engine.Alpha, engine.Warmup, engine.alive = old.Alpha, old.Warmup, old.alive
	for k, b := range old.baselines {
		cp := *b
		engine.baselines[k] = &cp
	}
	for k, st := range old.states {
		if keep[k.rule] {
			engine.states[k] = st
		}
	}
	m.engine = engine
	m.cfg.Rules = slices.Clone(rules)
	now := m.clock.Now()
	var save []Alert
	var events []Event
	for id, a := range m.alerts {
		if keep[a.Rule] {
			continue
		}
		delete(m.alerts, id)
		delete(m.byKey, stateKey{a.Rule, a.Node})
		a.State, a.ResolvedAt, a.Resolution = AlertResolved, now, "the rule was removed"
		cp := *a
		save = append(save, cp)
		events = append(events, Event{Type: EventAlertResolved, Time: now, Alert: &cp})
	}
	m.mu.Unlock()
	slices.SortFunc(events, func(a, b Event) int { return a.Alert.RaisedAt.Compare(b.Alert.RaisedAt) })
	var errs []error
	for _, a := range save {
		if err := m.save(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	m.publish(events)
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// ResourceHistory returns the resource samples of node taken at or after
// since, oldest first (at most Config.HistorySize), and whether the
// monitor knows the node at all.
func (m *Monitor) ResourceHistory(node string, since time.Time) ([]cluster.Resources, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.nodes[node]
	if !ok {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(st.history, since, func(r cluster.Resources, t time.Time) int { return r.Time.Compare(t) })
	return slices.Clone(st.history[i:]), true
}

// addHistory appends a sample, keeping at most max (samples out of time
// order, from a node whose clock stepped back, restart the history).
func (st *nodeState) addHistory(r cluster.Resources, max int) {
	if n := len(st.history); n > 0 && r.Time.Before(st.history[n-1].Time) {
		st.history = st.history[:0]
	}
	if len(st.history) >= max {
		// Shift in place: the slice never grows past max.
		copy(st.history, st.history[len(st.history)-max+1:])
		st.history = st.history[:max-1]
	}
	st.history = append(st.history, r)
}

// MarshalJSON writes For and ClearFor as Go duration strings ("10s"), the
// way people write them.
func (r Rule) MarshalJSON() ([]byte, error) {
	type plain Rule
	out := struct {
		plain
		For      string `json:"for"`
		ClearFor string `json:"clear_for,omitempty"`
	}{plain: plain(r), For: r.For.String()}
	if r.ClearFor != 0 {
		out.ClearFor = r.ClearFor.String()
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a rule whose For and ClearFor are duration strings
// ("10s") or numbers of nanoseconds. It does not validate the rule (see
// Validate).
func (r *Rule) UnmarshalJSON(b []byte) error {
	type plain Rule
	var aux struct {
		plain
		For      json.RawMessage `json:"for"`
		ClearFor json.RawMessage `json:"clear_for"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return fmt.Errorf("health: rule: %w", err)
	}
	forD, err := jsonDuration(aux.For)
	if err != nil {
		return fmt.Errorf("health: rule %s for: %w", aux.Name, err)
	}
	clearD, err := jsonDuration(aux.ClearFor)
	if err != nil {
		return fmt.Errorf("health: rule %s clear_for: %w", aux.Name, err)
	}
	*r = Rule(aux.plain)
	r.For, r.ClearFor = forD, clearD
	return nil
}

// jsonDuration reads a duration written as a string ("1m30s") or a
// number of nanoseconds; absent or null is 0.
func jsonDuration(raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		if s == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration like 10s or 1m30s", s)
		}
		return d, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, fmt.Errorf("want a duration string like \"10s\" or nanoseconds: %v", err)
	}
	if math.IsNaN(f) || math.Abs(f) > float64(math.MaxInt64) {
		return 0, fmt.Errorf("%v nanoseconds out of range", f)
	}
	return time.Duration(f), nil
}
