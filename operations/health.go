package operations

import (
	"context"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/cluster/health"
)

// HealthControl is what health operations need from the app's health
// monitor; nil when the app runs without one. The app implements it over
// a *health.Monitor. Implementations must be safe for concurrent use and
// should return *Error values where they can (CodeNotFound for an
// unknown alert or node, CodeInvalidParams for invalid rules).
type HealthControl interface {
	// Status returns the monitor's latest report; its Services include
	// the app's own supervised services.
	Status(ctx context.Context) (health.Report, error)
	// NodeResources returns the resource samples of node taken at or
	// after since, oldest first; ok is false when the monitor does not
	// know the node.
	NodeResources(node string, since time.Time) (samples []cluster.Resources, ok bool)
	// ActiveAlerts returns the raised and acknowledged alerts, most
	// severe first, then oldest.
	ActiveAlerts() []health.Alert
	// AlertHistory returns the kept alerts, resolved ones included,
	// oldest raise first.
	AlertHistory(ctx context.Context) ([]health.Alert, error)
	// Ack acknowledges an active alert and returns it.
	Ack(ctx context.Context, id string) (health.Alert, error)
	// Timeline returns the merged membership timeline, oldest first.
	Timeline() []health.TimelineEntry
	// Rules returns the rules in force and whether they are the
	// defaults.
	Rules() (rules []health.Rule, defaults bool)
	// SetRules replaces the rules (nil: the defaults) and keeps them in
	// the project when there is a session store (persisted is then
	// true).
	SetRules(ctx context.Context, rules []health.Rule) (persisted bool, err error)
	// Pressure returns the modelled pressure of a virtual node; it
	// fails with CodeSimulatorOnly on a real cluster and CodeNotFound
	// for a node without a model.
	Pressure(node string) (Pressure, error)
	// SetPressure changes the modelled pressure of a virtual node and
	// returns it (see Pressure).
	SetPressure(node string, p Pressure) (Pressure, error)
}

// Pressure is the pressure injected into a virtual node's resource model
// (cluster.ModelSource). A negative value means "not injected": the model
// runs its quiet baseline for it.
type Pressure struct {
	// CPU is the host CPU in percent, 0..100.
	CPU float64 `json:"cpu"`
	// Memory is the host memory used in percent, 0..100.
	Memory float64 `json:"memory"`
	// Load is the load average.
	Load float64 `json:"load"`
}

// NoPressure is a Pressure with nothing injected.
var NoPressure = Pressure{CPU: -1, Memory: -1, Load: -1}
