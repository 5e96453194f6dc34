package scenario

import (
	"context"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Control steps: sleep, wait_until, expect.

const (
	// defaultWithin is wait_until's deadline when the step gives none.
	defaultWithin = 10 * time.Second
	// pollInterval is how often wait_until evaluates its condition.
	pollInterval = 20 * time.Millisecond
)

func init() {
	defineStep("sleep", "sleep: 500ms", func(n *yaml.Node) (action, error) {
		var d duration
		if err := d.UnmarshalYAML(n); err != nil {
			return nil, err
		}
		return sleepStep{d: d}, nil
	})
	defineStep("wait_until", "wait_until: {condition: CONDITION, within: 5s}", parseCondStep(true))
	defineStep("expect", "expect: {condition: CONDITION}", parseCondStep(false))
}

// sleepStep waits a fixed time. It is allowed but discouraged: a
// wait_until on what the sleep waits for is faster and does not flake.
type sleepStep struct{ d duration }

func (s sleepStep) summary() string           { return "sleep " + s.d.String() }
func (s sleepStep) validate(*validator) error { return nil }
func (s sleepStep) waits() time.Duration      { return s.d.D() }
func (s sleepStep) run(ctx context.Context, _ *runner) (string, error) {
	t := time.NewTimer(s.d.D())
	defer t.Stop()
	select {
	case <-t.C:
		return "", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// condStep is wait_until (poll until the condition holds or the deadline
// passes) and expect (check once).
type condStep struct {
	wait   bool
	cond   condition
	within duration
}

type condStepYAML struct {
	Condition yaml.Node `yaml:"condition"`
	Within    *duration `yaml:"within"`
}

func parseCondStep(wait bool) func(*yaml.Node) (action, error) {
	return func(n *yaml.Node) (action, error) {
		what := "expect"
		if wait {
			what = "wait_until"
		}
		var y condStepYAML
		if err := decodeStrict(n, &y, ""); err != nil {
			return nil, err
		}
		if isNull(&y.Condition) {
			return nil, errAt(n, "%s: condition is required", what)
		}
		c, err := parseCondition(&y.Condition, 0)
		if err != nil {
			return nil, err
		}
		s := &condStep{wait: wait, cond: c, within: duration(defaultWithin)}
		if y.Within != nil {
			if !wait {
				return nil, errAt(n, "expect checks once and takes no within; use wait_until to wait")
			}
			if *y.Within <= 0 {
				return nil, errAt(n, "wait_until: within must be more than 0")
			}
			s.within = *y.Within
		}
		return s, nil
	}
}

func (s *condStep) summary() string {
	if s.wait {
		return fmt.Sprintf("wait_until %s within %s", s.cond, s.within)
	}
	return "expect " + s.cond.String()
}

func (s *condStep) validate(v *validator) error { return s.cond.validate(v) }

func (s *condStep) waits() time.Duration {
	if s.wait {
		return s.within.D()
	}
	return 0
}

func (s *condStep) run(ctx context.Context, r *runner) (string, error) {
	if !s.wait {
		if ok, seen := s.cond.check(ctx, r); !ok {
			return "", &failure{expected: s.cond.expected(), seen: seen}
		}
		return "", nil
	}
	deadline := time.NewTimer(s.within.D())
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ok, seen := s.cond.check(ctx, r)
		if ok {
			return "", nil
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			// One last look: the condition may have become true while the
			// timer fired.
			if ok, seen = s.cond.check(ctx, r); ok {
				return "", nil
			}
			return "", &failure{expected: s.cond.expected() + " within " + s.within.String(), seen: seen}
		case <-ctx.Done():
			return "", fmt.Errorf("gave up waiting for %s: %w (last seen: %s)", s.cond, ctx.Err(), seen)
		}
	}
}
