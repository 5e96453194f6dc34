package workload

import (
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// TickerArgs configures a ticker.
type TickerArgs struct {
	// Interval is the time between ticks; default 1s, at least MinInterval.
	Interval Duration `json:"interval"`
}

// DefaultTickerArgs returns the args an empty args object means.
func DefaultTickerArgs() TickerArgs { return TickerArgs{Interval: Duration(time.Second)} }

func (a *TickerArgs) fields() map[string]any { return map[string]any{"interval": &a.Interval} }

func (a TickerArgs) validate() error { return checkInterval(Ticker, "interval", a.Interval) }

// ticker sends itself KindTick every interval and counts the ticks; KindGet
// answers the count.
type ticker struct {
	args  TickerArgs
	timer selfTimer
	ticks int64
}

func (t *ticker) Init(p *cluster.Process, args []byte) error {
	t.args = DefaultTickerArgs()
	if err := decodeArgs(Ticker, args, &t.args); err != nil {
		return err
	}
	if err := t.args.validate(); err != nil {
		return err
	}
	t.timer.schedule(p, time.Duration(t.args.Interval))
	return nil
}

func (t *ticker) Handle(p *cluster.Process, m cluster.Message) error {
	switch {
	case t.timer.fired(p, m):
		t.ticks++
		t.timer.schedule(p, time.Duration(t.args.Interval))
	case m.Kind == KindGet:
		answer(p, Ticker, m, KindValue, itoa(t.ticks))
	default:
		unknownRequest(p, Ticker, m, KindGet)
	}
	return nil
}

func (t *ticker) Terminate(*cluster.Process, cluster.Reason) { t.timer.stop() }
