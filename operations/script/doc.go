// Package script turns Starlark files into operations: every *.star file in
// a project's .clusterlab/operations/ directory declares one operation,
// which the Loader registers in an operations.Registry (source: the file's
// path) and reloads whenever the file changes, without a restart.
//
// A script operation declares itself with operation() and does its work in
// execute(params), using the same `cluster` module as sandbox exec
// (cluster/script.Module):
//
//	operation(
//	    name = "count_echoes",
//	    summary = "Count echo processes",
//	    category = "scripts",
//	    params = {"node": param("node", required = False, description = "only this node")},
//	    destructive = False,
//	)
//
//	def execute(params):
//	    procs = cluster.processes(node = params.get("node"), behavior = "echo")
//	    return {"count": len(procs)}
//
// The predeclared names are:
//
//	operation(name, summary, category="scripts", description="", params={},
//	          result="", destructive=False, timeout=None)
//	    declares the operation; call it exactly once, at top level.
//	    timeout is in seconds (default operations.DefaultTimeout).
//	param(type, required=False, default=None, description="", min=None,
//	      max=None, min_len=None, max_len=None, pattern="", enum=None, items="")
//	    declares one parameter; the key in operation's params dict is its
//	    name, type is one of operations.Types.
//	cluster  the cluster module (members, spawn, send, call, kill, lookup,
//	         processes, sleep, self_node); usable only inside execute.
//	json     json.encode / json.decode.
//
// The framework validates the parameters before execute runs, exactly as
// for a built-in operation; execute receives them as a dict (durations in
// seconds as floats, PIDs as "node/id" strings) and returns a value that
// converts to JSON (cluster/script.ToGo), which is the operation's result.
// Each run starts on a fresh Starlark thread bounded in steps and by the
// operation's timeout; print() output goes to the app's debug log.
//
// A file that fails to load — a syntax error, a bad declaration, a name
// taken by a built-in or by another file — is recorded with
// Registry.SetFailed: the catalog lists it with its load error and running
// it answers load_error (422). It never takes the app down.
//
//	l, err := script.NewLoader(script.Config{Dir: script.Dir(projectDir), Registry: reg})
//	if err != nil { ... }
//	if err := l.Start(ctx); err != nil { ... }
//	defer l.Close()
package script
