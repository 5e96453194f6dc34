package cluster

// sandboxes is the node's sandbox subsystem (being written).
type sandboxes struct{}

// initSandboxes attaches the subsystem to the node; NewNode calls it.
func (n *Node) initSandboxes() { n.sandboxes = &sandboxes{} }
