// Package operations is the Arsenal: every action clusterlab can take on a
// cluster is an Operation, written once and served by every surface (REST,
// CLI, the desktop UI) from one Registry.
//
// An operation declares what it takes in its Spec and does its work in
// Execute. The framework, never the operation, validates and coerces the
// parameters, applies a timeout, recovers panics and turns failures into an
// *Error with a stable code, an HTTP status and a remediation:
//
//	func init() {
//		operations.Register(operations.Define(operations.Spec{
//			Name:     "process_info",
//			Category: "processes",
//			Summary:  "Show one process",
//			Params:   []operations.Param{{Name: "pid", Type: operations.TypePID, Required: true}},
//		}, func(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
//			return env.View.ProcessInfo(ctx, p.PID("pid"))
//		}))
//	}
//
// A surface runs it with Registry.Run, which returns the result or an error
// that AsError turns into the JSON envelope
// {"error":{"code","message","details","remediation"}}.
//
// The registry changes at run time: Add, Replace and Remove take effect at
// once for every surface, and an operation that failed to load (a broken
// script) is listed with its load error through SetFailed.
package operations
