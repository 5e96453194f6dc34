package workload

import (
	"errors"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// CrasherArgs configures a crasher. With both After and Every zero it
// crashes only on KindCrash.
type CrasherArgs struct {
	// After is how many messages end the process: it exits on the After-th
	// message it receives (its own timer excluded) instead of handling it.
	// Default 0: never by count.
	After int `json:"after"`
	// Every is how long after its start the process exits. Default 0: never
	// by time; otherwise at least MinInterval. Under a supervisor that
	// restarts it, the crash recurs every period.
	Every Duration `json:"every"`
	// Reason is the exit reason for crashes by count or time; default
	// "boom". KindCrash panics with it, giving "panic: boom".
	Reason string `json:"reason"`
}

// DefaultCrasherArgs returns the args an empty args object means.
func DefaultCrasherArgs() CrasherArgs { return CrasherArgs{Reason: "boom"} }

func (a *CrasherArgs) fields() map[string]any {
	return map[string]any{"after": &a.After, "every": &a.Every, "reason": &a.Reason}
}

func (a CrasherArgs) validate() error {
	if a.After < 0 {
		return badArgs(Crasher, "after", "%d is negative (0 means never by count)", a.After)
	}
	if a.Every < 0 || (a.Every > 0 && time.Duration(a.Every) < MinInterval) {
		return badArgs(Crasher, "every", "%s must be 0 (never by time) or at least %s", a.Every, MinInterval)
	}
	if a.Reason == "" {
		return badArgs(Crasher, "reason", "must not be empty")
	}
	return nil
}

// crasher exits abnormally: on its After-th message, when Every has passed,
// or at once (by panicking) on KindCrash. KindGet answers how many messages
// it has received.
type crasher struct {
	args     CrasherArgs
	timer    selfTimer
	received int64
}

func (c *crasher) Init(p *cluster.Process, args []byte) error {
	c.args = DefaultCrasherArgs()
	if err := decodeArgs(Crasher, args, &c.args); err != nil {
		return err
	}
	if err := c.args.validate(); err != nil {
		return err
	}
	if c.args.Every > 0 {
		c.timer.schedule(p, time.Duration(c.args.Every))
	}
	return nil
}

func (c *crasher) Handle(p *cluster.Process, m cluster.Message) error {
	if c.timer.fired(p, m) {
		return errors.New(c.args.Reason)
	}
	c.received++
	if c.args.After > 0 && c.received >= int64(c.args.After) {
		return errors.New(c.args.Reason)
	}
	switch m.Kind {
	case KindCrash:
		panic(c.args.Reason)
	case KindGet:
		answer(p, Crasher, m, KindValue, itoa(c.received))
	default:
		unknownRequest(p, Crasher, m, KindGet, KindCrash)
	}
	return nil
}

func (c *crasher) Terminate(*cluster.Process, cluster.Reason) { c.timer.stop() }
