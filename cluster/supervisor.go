package cluster

// supervisors is the node's supervisor subsystem (being written).
type supervisors struct{}

// initSupervisors attaches the subsystem to the node; NewNode calls it.
func (n *Node) initSupervisors() { n.supervisors = &supervisors{} }
