package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// PingerArgs configures a pinger.
type PingerArgs struct {
	// Target is the process to ping; zero (JSON "") pings nobody until a
	// KindTarget message names one. It must not be the pinger itself.
	Target cluster.PID `json:"target"`
	// Interval is the time between pings; default 500ms, at least
	// MinInterval. A ping slower than the interval delays the next one.
	Interval Duration `json:"interval"`
	// Timeout bounds each ping; default 200ms, at least 1ms.
	Timeout Duration `json:"timeout"`
}

// DefaultPingerArgs returns the args an empty args object means.
func DefaultPingerArgs() PingerArgs {
	return PingerArgs{Interval: Duration(500 * time.Millisecond), Timeout: Duration(200 * time.Millisecond)}
}

func (a *PingerArgs) fields() map[string]any {
	return map[string]any{"target": &a.Target, "interval": &a.Interval, "timeout": &a.Timeout}
}

func (a PingerArgs) validate() error {
	if err := checkInterval(Pinger, "interval", a.Interval); err != nil {
		return err
	}
	if time.Duration(a.Timeout) < time.Millisecond {
		return badArgs(Pinger, "timeout", "%s is below the minimum 1ms", a.Timeout)
	}
	return nil
}

// PingerStats is a pinger's answer to KindStats, as JSON.
type PingerStats struct {
	// OK counts pings the target answered.
	OK int64 `json:"ok"`
	// Failed counts pings that timed out, could not be delivered, or were
	// answered with KindError.
	Failed int64 `json:"failed"`
	// LastError is the error of the latest failed ping.
	LastError string `json:"last_error"`
	// Target is the current target, zero when there is none.
	Target cluster.PID `json:"target"`
}

// pinger calls its target with KindPing every interval and counts the
// outcomes. The call is made synchronously from the tick, so the pinger
// answers other requests between pings only.
type pinger struct {
	args  PingerArgs
	timer selfTimer
	stats PingerStats
}

func (g *pinger) Init(p *cluster.Process, args []byte) error {
	g.args = DefaultPingerArgs()
	if err := decodeArgs(Pinger, args, &g.args); err != nil {
		return err
	}
	if err := g.args.validate(); err != nil {
		return err
	}
	if g.args.Target == p.PID() {
		return badArgs(Pinger, "target", "%s is the pinger itself", g.args.Target)
	}
	g.stats.Target = g.args.Target
	g.timer.schedule(p, time.Duration(g.args.Interval))
	return nil
}

func (g *pinger) Handle(p *cluster.Process, m cluster.Message) error {
	switch {
	case g.timer.fired(p, m):
		g.timer.schedule(p, time.Duration(g.args.Interval))
		if !g.stats.Target.IsZero() {
			g.ping(p)
		}
	case m.Kind == KindStats:
		b, err := json.Marshal(g.stats)
		if err != nil {
			return fmt.Errorf("workload pinger: encode stats: %w", err)
		}
		answer(p, Pinger, m, KindValue, b)
	case m.Kind == KindTarget:
		target, err := g.parseTarget(p, m.Body)
		if err != nil {
			reject(p, Pinger, m, err)
			return nil
		}
		g.stats.Target = target
		answer(p, Pinger, m, KindValue, []byte(targetString(target)))
	default:
		unknownRequest(p, Pinger, m, KindStats, KindTarget)
	}
	return nil
}

func (g *pinger) Terminate(*cluster.Process, cluster.Reason) { g.timer.stop() }

// ping makes one call to the target and records the outcome.
func (g *pinger) ping(p *cluster.Process) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(g.args.Timeout))
	defer cancel()
	reply, err := p.Call(ctx, g.stats.Target, cluster.Message{Kind: KindPing})
	switch {
	case err != nil:
		g.stats.Failed++
		g.stats.LastError = err.Error()
	case reply.Kind == KindError:
		g.stats.Failed++
		g.stats.LastError = fmt.Sprintf("%s answered ping with an error: %s", g.stats.Target, reply.Body)
	default:
		g.stats.OK++
	}
}

// parseTarget reads a KindTarget body: a PID string, or empty for none.
func (g *pinger) parseTarget(p *cluster.Process, body []byte) (cluster.PID, error) {
	var target cluster.PID
	if err := target.UnmarshalText(bytes.TrimSpace(body)); err != nil {
		return cluster.PID{}, fmt.Errorf("workload pinger: target: %w", err)
	}
	if target == p.PID() {
		return cluster.PID{}, fmt.Errorf("workload pinger: target: %s is the pinger itself", target)
	}
	return target, nil
}

func targetString(pid cluster.PID) string {
	if pid.IsZero() {
		return ""
	}
	return pid.String()
}
