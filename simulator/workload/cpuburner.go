package workload

import (
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// CPUBurnerArgs configures a cpu-burner.
type CPUBurnerArgs struct {
	// Interval is the time between burns; default 100ms, at least
	// MinInterval.
	Interval Duration `json:"interval"`
	// Burn is how long each burn busy-loops; default 20ms, at least 1ms and
	// at most Interval (Burn == Interval keeps one CPU busy).
	Burn Duration `json:"burn"`
}

// DefaultCPUBurnerArgs returns the args an empty args object means.
func DefaultCPUBurnerArgs() CPUBurnerArgs {
	return CPUBurnerArgs{Interval: Duration(100 * time.Millisecond), Burn: Duration(20 * time.Millisecond)}
}

func (a *CPUBurnerArgs) fields() map[string]any {
	return map[string]any{"interval": &a.Interval, "burn": &a.Burn}
}

func (a CPUBurnerArgs) validate() error {
	if err := checkInterval(CPUBurner, "interval", a.Interval); err != nil {
		return err
	}
	if time.Duration(a.Burn) < time.Millisecond || a.Burn > a.Interval {
		return badArgs(CPUBurner, "burn", "%s must be between 1ms and the interval %s", a.Burn, a.Interval)
	}
	return nil
}

// cpuBurner busy-loops for Burn every Interval; KindGet answers the total
// burned time in whole milliseconds. A burn stops early when the process is
// told to exit, so killing a burner does not wait for the burn to end.
type cpuBurner struct {
	args   CPUBurnerArgs
	timer  selfTimer
	burned time.Duration
}

func (b *cpuBurner) Init(p *cluster.Process, args []byte) error {
	b.args = DefaultCPUBurnerArgs()
	if err := decodeArgs(CPUBurner, args, &b.args); err != nil {
		return err
	}
	if err := b.args.validate(); err != nil {
		return err
	}
	b.timer.schedule(p, time.Duration(b.args.Interval))
	return nil
}

func (b *cpuBurner) Handle(p *cluster.Process, m cluster.Message) error {
	switch {
	case b.timer.fired(p, m):
		b.timer.schedule(p, time.Duration(b.args.Interval))
		b.burned += burn(time.Duration(b.args.Burn), func() bool { return exiting(p) })
	case m.Kind == KindGet:
		answer(p, CPUBurner, m, KindValue, itoa(b.burned.Milliseconds()))
	default:
		unknownRequest(p, CPUBurner, m, KindGet)
	}
	return nil
}

func (b *cpuBurner) Terminate(*cluster.Process, cluster.Reason) { b.timer.stop() }

// exiting reports whether p has been told to exit (killed, linked exit, node
// stop) while it handles a message.
func exiting(p *cluster.Process) bool { return p.Info().Status == cluster.StatusExiting }

// burnCheckEvery is how often a burn polls its stop condition.
const burnCheckEvery = time.Millisecond

// burn busy-loops on the CPU for d, or until stop reports true (polled every
// burnCheckEvery), and returns how long it ran. It deliberately reads the
// real clock, not the node's: burning CPU is real whatever the simulation's
// time.
func burn(d time.Duration, stop func() bool) time.Duration {
	start := time.Now()
	deadline, check := start.Add(d), start.Add(burnCheckEvery)
	for {
		now := time.Now()
		if !now.Before(deadline) {
			return now.Sub(start)
		}
		if !now.Before(check) {
			if stop() {
				return now.Sub(start)
			}
			check = now.Add(burnCheckEvery)
		}
	}
}
