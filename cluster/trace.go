package cluster

// traces is the node's trace subsystem (being written).
type traces struct{}

// initTracing attaches the subsystem to the node; NewNode calls it.
func (n *Node) initTracing() { n.traces = &traces{} }
