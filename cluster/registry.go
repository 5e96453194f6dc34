package cluster

// registry is the node's registry subsystem (being written).
type registry struct{}

// initRegistry attaches the subsystem to the node; NewNode calls it.
func (n *Node) initRegistry() { n.registry = &registry{} }
