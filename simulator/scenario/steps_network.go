package scenario

import (
	"context"
	"fmt"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Network fault steps: partition, heal, cut, uncut, latency, loss,
// clear_link. They map to simulator.Network.

func init() {
	defineStep("partition", "partition: [[node-1, node-2], [node-3, node-4]]", func(n *yaml.Node) (action, error) {
		s := &partitionStep{}
		if err := decodeStrict(n, &s.groups, "partition"); err != nil {
			return nil, err
		}
		if len(s.groups) == 0 {
			return nil, errAt(n, "partition: want a list of groups of nodes")
		}
		return s, nil
	})
	defineStep("heal", "heal: {}", func(n *yaml.Node) (action, error) {
		if !isNull(n) && !(n.Kind == yaml.MappingNode && len(n.Content) == 0) {
			return nil, errAt(n, "heal takes no arguments, got %s", describeNode(n))
		}
		return healStep{}, nil
	})
	defineStep("cut", "cut: {from: NODE, to: NODE}", structStep[cutStep]())
	defineStep("uncut", "uncut: {from: NODE, to: NODE}", func(n *yaml.Node) (action, error) {
		var s cutStep
		if err := decodeStrict(n, &s, ""); err != nil {
			return nil, err
		}
		s.undo = true
		return &s, nil
	})
	defineStep("latency", "latency: {a: NODE, b: NODE, latency: 50ms, jitter: 10ms} (no a and b: every link)", structStep[latencyStep]())
	defineStep("loss", "loss: {a: NODE, b: NODE, p: 0.2} (no a and b: every link)", structStep[lossStep]())
	defineStep("clear_link", "clear_link: {a: NODE, b: NODE}", structStep[clearLinkStep]())
}

// partitionStep splits the network into groups; nodes in no group form one
// more group together.
type partitionStep struct{ groups [][]string }

func (s *partitionStep) summary() string {
	parts := make([]string, len(s.groups))
	for i, g := range s.groups {
		parts[i] = "[" + strings.Join(g, ", ") + "]"
	}
	return "partition " + strings.Join(parts, " | ")
}

func (s *partitionStep) validate(v *validator) error {
	seen := map[string]int{}
	for i, g := range s.groups {
		if len(g) == 0 {
			return fmt.Errorf("group %d is empty", i+1)
		}
		for _, name := range g {
			if err := v.node(name, false); err != nil {
				return err
			}
			if j, dup := seen[name]; dup {
				return fmt.Errorf("%s is in group %d and group %d", name, j, i+1)
			}
			seen[name] = i + 1
		}
	}
	return nil
}

func (s *partitionStep) run(_ context.Context, r *runner) (string, error) {
	r.sim.Network().Partition(s.groups...)
	return "", nil
}

type healStep struct{}

func (healStep) summary() string           { return "heal" }
func (healStep) validate(*validator) error { return nil }
func (healStep) run(_ context.Context, r *runner) (string, error) {
	r.sim.Network().Heal()
	return "", nil
}

// cutStep drops packets one way, from -> to (uncut removes it).
type cutStep struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
	undo bool
}

func (s *cutStep) summary() string {
	if s.undo {
		return fmt.Sprintf("uncut %s -> %s", s.From, s.To)
	}
	return fmt.Sprintf("cut %s -> %s", s.From, s.To)
}

func (s *cutStep) validate(v *validator) error {
	if err := v.node(s.From, false); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := v.node(s.To, false); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	if s.From == s.To {
		return fmt.Errorf("from and to are both %s", s.From)
	}
	return nil
}

func (s *cutStep) run(_ context.Context, r *runner) (string, error) {
	if s.undo {
		r.sim.Network().Uncut(s.From, s.To)
	} else {
		r.sim.Network().Cut(s.From, s.To)
	}
	return "", nil
}

// validLink checks the a/b pair of a link step: both or neither.
func validLink(v *validator, a, b string) error {
	if (a == "") != (b == "") {
		return fmt.Errorf("give both a and b (one link) or neither (every link)")
	}
	if a == "" {
		return nil
	}
	if err := v.node(a, false); err != nil {
		return fmt.Errorf("a: %w", err)
	}
	if err := v.node(b, false); err != nil {
		return fmt.Errorf("b: %w", err)
	}
	if a == b {
		return fmt.Errorf("a and b are both %s", a)
	}
	return nil
}

func linkName(a, b string) string {
	if a == "" {
		return "every link"
	}
	return a + " <-> " + b
}

// latencyStep sets a link's one-way delay (both directions).
type latencyStep struct {
	A       string   `yaml:"a"`
	B       string   `yaml:"b"`
	Latency duration `yaml:"latency"`
	Jitter  duration `yaml:"jitter"`
}

func (s *latencyStep) summary() string {
	return fmt.Sprintf("latency %s %s±%s", linkName(s.A, s.B), s.Latency, s.Jitter)
}

func (s *latencyStep) validate(v *validator) error { return validLink(v, s.A, s.B) }

func (s *latencyStep) run(_ context.Context, r *runner) (string, error) {
	if s.A == "" {
		r.sim.Network().SetDefaultLatency(s.Latency.D(), s.Jitter.D())
	} else {
		r.sim.Network().SetLatency(s.A, s.B, s.Latency.D(), s.Jitter.D())
	}
	return "", nil
}

// lossStep sets a link's packet loss probability.
type lossStep struct {
	A string  `yaml:"a"`
	B string  `yaml:"b"`
	P float64 `yaml:"p"`
}

func (s *lossStep) summary() string { return fmt.Sprintf("loss %s p=%g", linkName(s.A, s.B), s.P) }

func (s *lossStep) validate(v *validator) error {
	if math.IsNaN(s.P) || s.P < 0 || s.P > 1 {
		return fmt.Errorf("p: %g is not a probability in 0..1", s.P)
	}
	return validLink(v, s.A, s.B)
}

func (s *lossStep) run(_ context.Context, r *runner) (string, error) {
	if s.A == "" {
		r.sim.Network().SetDefaultLoss(s.P)
	} else {
		r.sim.Network().SetLoss(s.A, s.B, s.P)
	}
	return "", nil
}

// clearLinkStep removes a link's latency and loss.
type clearLinkStep struct {
	A string `yaml:"a"`
	B string `yaml:"b"`
}

func (s *clearLinkStep) summary() string { return "clear_link " + linkName(s.A, s.B) }

func (s *clearLinkStep) validate(v *validator) error {
	if s.A == "" || s.B == "" {
		return fmt.Errorf("give both a and b")
	}
	return validLink(v, s.A, s.B)
}

func (s *clearLinkStep) run(_ context.Context, r *runner) (string, error) {
	r.sim.Network().ClearLink(s.A, s.B)
	return "", nil
}
