package workload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// Behaviour names under which Register makes the workloads spawnable.
const (
	// Echo answers calls with their body and bounces sends back to the sender.
	Echo = "echo"
	// Counter keeps an integer that "inc", "get" and "reset" act on.
	Counter = "counter"
	// Ticker counts ticks it sends itself every interval.
	Ticker = "ticker"
	// Pinger calls a target process with "ping" every interval and counts
	// the answers and failures.
	Pinger = "pinger"
	// Crasher exits abnormally after a number of messages, after a
	// duration, or at once on "crash".
	Crasher = "crasher"
	// CPUBurner busy-loops for a while every interval, to show real CPU use.
	CPUBurner = "cpu-burner"
)

// Message kinds the workloads understand or answer with.
const (
	// KindEcho is the kind of every echo answer; an echo ignores sends of
	// this kind so that two echoes never bounce messages forever.
	KindEcho = "echo"
	// KindInc adds the decimal body (default 1) to a counter.
	KindInc = "inc"
	// KindGet asks a counter, ticker, crasher or cpu-burner for its value.
	KindGet = "get"
	// KindReset sets a counter to 0.
	KindReset = "reset"
	// KindValue is the answer to a successful request; the body is the
	// value in decimal (or the new target, for KindTarget).
	KindValue = "value"
	// KindError is the answer to a request the behaviour cannot honour; the
	// body says why.
	KindError = "error"
	// KindTick is the message periodic behaviours send themselves.
	KindTick = "tick"
	// KindPing is what a pinger calls its target with.
	KindPing = "ping"
	// KindStats asks a pinger for its PingerStats, answered as JSON.
	KindStats = "stats"
	// KindTarget sets a pinger's target to the PID in the body ("node/id",
	// or empty to stop pinging).
	KindTarget = "target"
	// KindCrash makes a crasher panic at once.
	KindCrash = "crash"
)

// MinInterval is the shortest interval a periodic workload accepts, so that
// a typo cannot make a process flood its own mailbox.
const MinInterval = 10 * time.Millisecond

// ErrBadArgs reports spawn args that do not decode or are out of range. The
// wrapping error names the behaviour and the field.
var ErrBadArgs = errors.New("workload: bad args")

// Names returns the behaviour names Register registers, sorted.
func Names() []string {
	names := make([]string, 0, len(factories))
	for name := range factories {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Factories returns a new map from behaviour name to factory; each factory
// call returns a fresh behaviour value.
func Factories() map[string]cluster.BehaviorFactory {
	out := make(map[string]cluster.BehaviorFactory, len(factories))
	for name, f := range factories {
		out[name] = f
	}
	return out
}

var factories = map[string]cluster.BehaviorFactory{
	Echo:      func() cluster.Behavior { return echo{} },
	Counter:   func() cluster.Behavior { return &counter{} },
	Ticker:    func() cluster.Behavior { return &ticker{} },
	Pinger:    func() cluster.Behavior { return &pinger{} },
	Crasher:   func() cluster.Behavior { return &crasher{} },
	CPUBurner: func() cluster.Behavior { return &cpuBurner{} },
}

// Register makes every workload spawnable on n under its name. A node must
// register them to host them, whichever node asks for the spawn.
func Register(n *cluster.Node) error {
	for _, name := range Names() {
		if err := n.RegisterBehavior(name, factories[name]); err != nil {
			return fmt.Errorf("workload: register %s on %s: %w", name, n.Name(), err)
		}
	}
	return nil
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("500ms", "2s").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"500ms\" or \"2s\"", b)
	}
	*d = Duration(v)
	return nil
}

// String returns the Go duration string.
func (d Duration) String() string { return time.Duration(d).String() }

// argsFields is implemented by args structs: it maps each JSON field name to
// a pointer to the field, so that decodeArgs can name the field that fails.
type argsFields interface {
	fields() map[string]any
}

// decodeArgs overlays the JSON object b on a, which holds the defaults.
// Empty args (or null) keep the defaults; unknown fields are rejected.
func decodeArgs(behavior string, b []byte, a argsFields) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%w for %s: want a JSON object, got %s", ErrBadArgs, behavior, te.Value)
		}
		return fmt.Errorf("%w for %s: want a JSON object: %v", ErrBadArgs, behavior, err)
	}
	fields := a.fields()
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ptr, ok := fields[k]
		if !ok {
			known := make([]string, 0, len(fields))
			for f := range fields {
				known = append(known, f)
			}
			slices.Sort(known)
			want := "it takes no args"
			if len(known) > 0 {
				want = "known: " + strings.Join(known, ", ")
			}
			return badArgs(behavior, k, "unknown field (%s)", want)
		}
		if err := json.Unmarshal(raw[k], ptr); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return badArgs(behavior, k, "want %s, got %s", describe(ptr), raw[k])
			}
			return badArgs(behavior, k, "%v", err)
		}
	}
	return nil
}

// describe names the JSON an args field takes, for error messages.
func describe(ptr any) string {
	switch ptr.(type) {
	case *Duration:
		return `a duration string like "500ms"`
	case *cluster.PID:
		return `a PID string "node/id"`
	case *string:
		return "a string"
	case *int, *int64:
		return "an integer"
	}
	return fmt.Sprintf("%T", ptr)
}

// badArgs returns an ErrBadArgs error naming behaviour and field.
func badArgs(behavior, field, format string, args ...any) error {
	return fmt.Errorf("%w for %s: field %q: %s", ErrBadArgs, behavior, field, fmt.Sprintf(format, args...))
}

// checkInterval validates a periodic interval field.
func checkInterval(behavior, field string, d Duration) error {
	if time.Duration(d) < MinInterval {
		return badArgs(behavior, field, "%s is below the minimum %s", d, MinInterval)
	}
	return nil
}

// selfTimer schedules KindTick messages to the process itself. Each tick
// carries a sequence number and only the one scheduled last is accepted, so
// a stray or duplicate "tick" never starts a second chain. It is used only
// from behaviour callbacks and so needs no lock.
type selfTimer struct {
	seq    uint64
	cancel func() bool // nil when no tick is pending
}

// schedule replaces any pending tick with one due after d.
func (t *selfTimer) schedule(p *cluster.Process, d time.Duration) {
	t.stop()
	t.seq++
	body := strconv.AppendUint(nil, t.seq, 10)
	t.cancel = p.SendAfter(p.PID(), cluster.Message{Kind: KindTick, Body: body}, d)
}

// fired reports whether m is the pending tick, and consumes it.
func (t *selfTimer) fired(p *cluster.Process, m cluster.Message) bool {
	if t.cancel == nil || m.Kind != KindTick || m.Ref != 0 || m.From != p.PID() ||
		string(m.Body) != strconv.FormatUint(t.seq, 10) {
		return false
	}
	t.cancel = nil
	return true
}

// stop cancels the pending tick, if any.
func (t *selfTimer) stop() {
	if t.cancel != nil {
		t.cancel()
		t.cancel = nil
	}
}

// answer replies to req when it is a call; a plain send gets no answer. A
// reply that cannot be delivered (the caller's node went away) is the
// caller's loss, not a reason for the workload to exit, so it is logged.
func answer(p *cluster.Process, behavior string, req cluster.Message, kind string, body []byte) {
	if req.Ref == 0 {
		return
	}
	if err := p.Reply(req, cluster.Message{Kind: kind, Body: body}); err != nil {
		logger(p, behavior).Warn("workload reply failed", "request", req.Kind, "to", req.From.String(), "err", err)
	}
}

// reject answers a call with KindError and err's text; a plain send that
// cannot be honoured is logged, since there is nobody to tell.
func reject(p *cluster.Process, behavior string, req cluster.Message, err error) {
	if req.Ref == 0 {
		logger(p, behavior).Warn("workload ignored a message", "kind", req.Kind, "from", req.From.String(), "err", err)
		return
	}
	answer(p, behavior, req, KindError, []byte(err.Error()))
}

// unknownRequest answers a call of a kind the behaviour does not handle.
// Plain sends of unknown kinds are ignored silently.
func unknownRequest(p *cluster.Process, behavior string, req cluster.Message, want ...string) {
	if req.Ref == 0 {
		return
	}
	reject(p, behavior, req, fmt.Errorf("workload %s: unknown request %q (want %s)", behavior, req.Kind, strings.Join(want, ", ")))
}

func logger(p *cluster.Process, behavior string) *slog.Logger {
	return p.Node().Config().Logger.With("node", p.Node().Name(), "pid", p.PID().String(), "behavior", behavior)
}

func itoa(v int64) []byte { return strconv.AppendInt(nil, v, 10) }
