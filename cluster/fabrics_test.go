package cluster_test

import "testing"

func fabrics() []fabric { return []fabric{realFabric()} }

var _ = testing.Short
