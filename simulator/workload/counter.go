package workload

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"github.com/clusterlab/clusterlab/cluster"
)

// CounterArgs configures a counter.
type CounterArgs struct {
	// Start is the initial value; default 0.
	Start int64 `json:"start,omitempty"`
}

func (a *CounterArgs) fields() map[string]any { return map[string]any{"start": &a.Start} }

// counter keeps an int64. KindInc adds the decimal body (default 1),
// KindReset sets 0; as calls, both answer KindValue with the new value, and
// KindGet answers the value.
type counter struct {
	value int64
}

func (c *counter) Init(_ *cluster.Process, args []byte) error {
	var a CounterArgs
	if err := decodeArgs(Counter, args, &a); err != nil {
		return err
	}
	c.value = a.Start
	return nil
}

func (c *counter) Handle(p *cluster.Process, m cluster.Message) error {
	switch m.Kind {
	case KindInc:
		n, err := parseAmount(m.Body)
		if err == nil {
			err = c.add(n)
		}
		if err != nil {
			reject(p, Counter, m, err)
			return nil
		}
	case KindReset:
		c.value = 0
	case KindGet:
	default:
		unknownRequest(p, Counter, m, KindInc, KindGet, KindReset)
		return nil
	}
	answer(p, Counter, m, KindValue, itoa(c.value))
	return nil
}

func (c *counter) Terminate(*cluster.Process, cluster.Reason) {}

// add adds n to the value unless that overflows int64.
func (c *counter) add(n int64) error {
	if (n > 0 && c.value > math.MaxInt64-n) || (n < 0 && c.value < math.MinInt64-n) {
		return fmt.Errorf("workload counter: inc %d would overflow %d", n, c.value)
	}
	c.value += n
	return nil
}

// parseAmount reads an inc body: empty means 1.
func parseAmount(body []byte) (int64, error) {
	s := string(bytes.TrimSpace(body))
	if s == "" {
		return 1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("workload counter: inc body %q is not a decimal integer", s)
	}
	return n, nil
}
