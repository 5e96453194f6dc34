package cluster_test

import (
	"testing"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator"
)

// fabrics returns the networks the node suite runs on: the simulator's
// in-memory network and real UDP/TCP on 127.0.0.1.
func fabrics() []fabric { return []fabric{simFabric(), realFabric()} }

func simFabric() fabric {
	return fabric{
		name:    "simulated",
		network: func(testing.TB) cluster.Network { return simulator.NewNetwork(1) },
		bind:    func(int) string { return "" },
		crash: func(_ *testing.T, net cluster.Network, n *cluster.Node) {
			net.(*simulator.Network).Crash(n.Name())
			n.Halt()
		},
	}
}
