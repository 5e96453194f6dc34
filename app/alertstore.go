package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/clusterlab/clusterlab/app/session"
	"github.com/clusterlab/clusterlab/cluster/health"
)

// HealthRuleStore keeps a project's health alert rules across runs.
// Methods may be called concurrently and must honour ctx.
type HealthRuleStore interface {
	// LoadHealthRules returns the kept rules; ok is false when the
	// project has none (it uses the defaults).
	LoadHealthRules(ctx context.Context) (rules []health.Rule, ok bool, err error)
	// SaveHealthRules keeps rules; nil forgets them (back to the
	// defaults).
	SaveHealthRules(ctx context.Context, rules []health.Rule) error
}

// ErrRulesNotKept reports a store that cannot keep health rules.
var ErrRulesNotKept = errors.New("app: this session store cannot keep health rules")

// ProjectAlertStore keeps the health monitor's alerts in a project of the
// session store (bbolt): SaveAlert appends or replaces the alert record
// by ID (session.Project.AppendAlert), LoadAlerts reads them back oldest
// raise first. It also keeps the project's health rules when the project
// can (see HealthRuleStore). It is safe for concurrent use.
type ProjectAlertStore struct {
	p *session.Project
}

var (
	_ health.AlertStore = (*ProjectAlertStore)(nil)
	_ HealthRuleStore   = (*ProjectAlertStore)(nil)
)

// NewProjectAlertStore returns the alert store of project p. The
// workbench passes it as BackendConfig.Health.AlertStore (and, being a
// HealthRuleStore too, as Health.RuleStore).
func NewProjectAlertStore(p *session.Project) health.AlertStore {
	return &ProjectAlertStore{p: p}
}

// SaveAlert implements health.AlertStore.
func (s *ProjectAlertStore) SaveAlert(ctx context.Context, a health.Alert) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("app: save alert %s: %w", a.ID, err)
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("app: save alert %s: %w", a.ID, err)
	}
	if err := s.p.AppendAlert(raw); err != nil {
		return fmt.Errorf("app: save alert %s: %w", a.ID, err)
	}
	return nil
}

// LoadAlerts implements health.AlertStore. Damaged records are skipped
// (the store reports them; the rest of the history is still useful).
func (s *ProjectAlertStore) LoadAlerts(ctx context.Context) ([]health.Alert, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("app: load alerts: %w", err)
	}
	raws, err := s.p.Alerts(0)
	if err != nil && !errors.Is(err, session.ErrCorrupt) {
		return nil, fmt.Errorf("app: load alerts: %w", err)
	}
	out := make([]health.Alert, 0, len(raws))
	for _, raw := range raws {
		var a health.Alert
		if json.Unmarshal(raw, &a) != nil || a.ID == "" {
			continue
		}
		switch a.State {
		case health.AlertRaised, health.AlertAcknowledged, health.AlertResolved:
		default:
			continue
		}
		out = append(out, a)
	}
	// The project keeps them newest first.
	slices.Reverse(out)
	slices.SortStableFunc(out, func(a, b health.Alert) int { return a.RaisedAt.Compare(b.RaisedAt) })
	return out, nil
}

// projectRules is what a session.Project needs to keep health rules. The
// adapter uses it when the project has it (W's session package may add
// it); until then rules are not kept across runs.
type projectRules interface {
	HealthRules() (json.RawMessage, error)
	SaveHealthRules(rules json.RawMessage) error
}

// LoadHealthRules implements HealthRuleStore.
func (s *ProjectAlertStore) LoadHealthRules(ctx context.Context) ([]health.Rule, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("app: load health rules: %w", err)
	}
	pr, ok := any(s.p).(projectRules)
	if !ok {
		return nil, false, nil
	}
	raw, err := pr.HealthRules()
	if errors.Is(err, session.ErrNotFound) || (err == nil && len(raw) == 0) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("app: load health rules: %w", err)
	}
	var rules []health.Rule
	if err := json.Unmarshal(raw, &rules); err != nil {
		return nil, false, fmt.Errorf("app: load health rules: %w", err)
	}
	if rules == nil {
		return nil, false, nil
	}
	if err := health.ValidateRules(rules); err != nil {
		return nil, false, fmt.Errorf("app: kept health rules: %w", err)
	}
	return rules, true, nil
}

// SaveHealthRules implements HealthRuleStore.
func (s *ProjectAlertStore) SaveHealthRules(ctx context.Context, rules []health.Rule) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("app: save health rules: %w", err)
	}
	pr, ok := any(s.p).(projectRules)
	if !ok {
		return ErrRulesNotKept
	}
	raw := json.RawMessage("null")
	if rules != nil {
		var err error
		if raw, err = json.Marshal(rules); err != nil {
			return fmt.Errorf("app: save health rules: %w", err)
		}
	}
	if err := pr.SaveHealthRules(raw); err != nil {
		return fmt.Errorf("app: save health rules: %w", err)
	}
	return nil
}

// MemoryRuleStore is a HealthRuleStore in memory (tests, a backend
// without a session store). The zero value is empty; it is safe for
// concurrent use.
type MemoryRuleStore struct {
	mu    sync.Mutex
	rules []health.Rule
	set   bool
}

// LoadHealthRules implements HealthRuleStore.
func (s *MemoryRuleStore) LoadHealthRules(ctx context.Context) ([]health.Rule, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("app: load health rules: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rules), s.set, nil
}

// SaveHealthRules implements HealthRuleStore.
func (s *MemoryRuleStore) SaveHealthRules(ctx context.Context, rules []health.Rule) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("app: save health rules: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules, s.set = slices.Clone(rules), rules != nil
	return nil
}
