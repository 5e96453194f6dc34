package workload

import "github.com/clusterlab/clusterlab/cluster"

// echo answers every call with KindEcho and the request's body, and sends
// the body of a plain send back to its sender as KindEcho. It ignores sends
// of KindEcho, so two echoes never bounce a message forever. It takes no
// args.
type echo struct{}

type noArgs struct{}

func (noArgs) fields() map[string]any { return nil }

func (echo) Init(_ *cluster.Process, args []byte) error {
	return decodeArgs(Echo, args, noArgs{})
}

func (echo) Handle(p *cluster.Process, m cluster.Message) error {
	switch {
	case m.Ref != 0:
		answer(p, Echo, m, KindEcho, m.Body)
	case m.Kind == KindEcho || m.From.IsZero():
		// An answer, or nobody to answer to.
	default:
		if err := p.Send(m.From, cluster.Message{Kind: KindEcho, Body: m.Body}); err != nil {
			logger(p, Echo).Debug("echo: sender is gone", "to", m.From.String(), "err", err)
		}
	}
	return nil
}

func (echo) Terminate(*cluster.Process, cluster.Reason) {}
