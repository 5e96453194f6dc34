package script

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"

	"github.com/clusterlab/clusterlab/cluster"
	cscript "github.com/clusterlab/clusterlab/cluster/script"
	"github.com/clusterlab/clusterlab/operations"
)

// DefaultCategory is the category of a script operation that names none.
const DefaultCategory = "scripts"

// MaxSource bounds a script file's size.
const MaxSource = cscript.MaxSource

// ErrLoad reports a script file that does not make a valid operation.
var ErrLoad = errors.New("script: load")

// Operation is an operation loaded from a Starlark file. It is safe for
// concurrent use: every Execute runs the compiled program on a fresh
// thread with fresh globals.
type Operation struct {
	spec    operations.Spec
	path    string
	prog    *starlark.Program
	maxStep uint64
}

// Spec implements operations.Operation.
func (o *Operation) Spec() operations.Spec { return o.spec }

// Path returns the file the operation was loaded from.
func (o *Operation) Path() string { return o.path }

// names the scripts see besides the Starlark universe.
var predeclaredNames = []string{"operation", "param", "cluster", "json"}

// Parse compiles the script src (from the file path) and runs its top
// level to read the operation's declaration. It returns an error wrapping
// ErrLoad, with the position when the script is at fault. The spec is
// validated like a built-in's (name pattern, parameter types and bounds).
func Parse(path string, src []byte) (*Operation, error) {
	if len(src) > MaxSource {
		return nil, fmt.Errorf("%w: %s: %d bytes, more than %d", ErrLoad, path, len(src), MaxSource)
	}
	_, prog, err := starlark.SourceProgramOptions(cscript.FileOptions(), path, src, func(name string) bool {
		return slices.Contains(predeclaredNames, name)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLoad, scriptMessage(err))
	}
	decl := &declaration{}
	thread := &starlark.Thread{Name: path + " (load)", Print: func(*starlark.Thread, string) {}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	cscript.Bind(thread, ctx, cscript.Limits{})
	thread.SetMaxExecutionSteps(cscript.DefaultMaxSteps)
	thread.OnMaxSteps = func(th *starlark.Thread) { th.Cancel("too many steps while loading") }
	stop := context.AfterFunc(ctx, func() { thread.Cancel("loading took more than 1s") })
	defer stop()
	globals, err := prog.Init(thread, starlark.StringDict{
		"operation": starlark.NewBuiltin("operation", decl.operation),
		"param":     starlark.NewBuiltin("param", makeParam),
		// No node while loading: the module's calls fail with a clear error.
		"cluster": cscript.Module(cscript.Env{}),
		"json":    json.Module,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLoad, scriptMessage(err))
	}
	if decl.spec == nil {
		return nil, fmt.Errorf("%w: %s: no operation(...) declaration", ErrLoad, path)
	}
	fn, ok := globals["execute"].(*starlark.Function)
	if !ok {
		return nil, fmt.Errorf("%w: %s: no execute(params) function", ErrLoad, path)
	}
	if fn.NumParams() != 1 {
		return nil, fmt.Errorf("%w: %s: execute takes %d parameters; want exactly one (params)", ErrLoad, path, fn.NumParams())
	}
	op := &Operation{spec: *decl.spec, path: path, prog: prog, maxStep: cscript.DefaultMaxSteps}
	// A throwaway registry validates the spec exactly as the real one will.
	if err := operations.NewRegistry().Add(op, path); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrLoad, path, strings.TrimPrefix(err.Error(), "operations: "))
	}
	return op, nil
}

// scriptMessage renders a Starlark load error with its position.
func scriptMessage(err error) string {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		pos := ""
		for i := len(ee.CallStack) - 1; i >= 0; i-- {
			if fr := ee.CallStack[i]; fr.Pos.IsValid() && fr.Pos.Filename() != "<builtin>" {
				pos = fr.Pos.String() + ": "
				break
			}
		}
		return pos + ee.Msg
	}
	return err.Error()
}

// Execute implements operations.Operation: it runs execute(params) on a
// fresh thread, bounded by ctx (the framework's timeout) and a step limit.
func (o *Operation) Execute(ctx context.Context, env *operations.Env, params operations.Params) (any, error) {
	if env == nil || env.Node == nil {
		return nil, operations.Errorf(operations.CodeUnprocessable, "%s: script operations need the app's node", o.spec.Name)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	thread := &starlark.Thread{
		Name: o.spec.Name,
		Print: func(_ *starlark.Thread, msg string) {
			log.Debug("script print", "op", o.spec.Name, "msg", msg)
		},
	}
	cscript.Bind(thread, ctx, cscript.Limits{Timeout: o.spec.Timeout})
	thread.SetMaxExecutionSteps(o.maxStep)
	tooManySteps := false
	thread.OnMaxSteps = func(th *starlark.Thread) {
		tooManySteps = true
		th.Cancel("too many steps")
	}
	stop := context.AfterFunc(ctx, func() { thread.Cancel(context.Cause(ctx).Error()) })
	defer stop()

	var decl declaration // the declaration runs again; it is ignored
	globals, err := o.prog.Init(thread, starlark.StringDict{
		"operation": starlark.NewBuiltin("operation", decl.operation),
		"param":     starlark.NewBuiltin("param", makeParam),
		"cluster":   cscript.Module(cscript.Env{Node: env.Node}),
		"json":      json.Module,
	})
	if err != nil {
		return nil, o.runError(ctx, err, tooManySteps)
	}
	arg, err := paramsDict(params)
	if err != nil {
		return nil, operations.Errorf(operations.CodeInternal, "%s: params: %v", o.spec.Name, err)
	}
	ret, err := starlark.Call(thread, globals["execute"], starlark.Tuple{arg}, nil)
	if err != nil {
		return nil, o.runError(ctx, err, tooManySteps)
	}
	res, err := cscript.ToGo(ret)
	if err != nil {
		return nil, (&operations.Error{Code: operations.CodeUnprocessable, Message: fmt.Sprintf("%s: execute returned a value that does not convert to JSON: %v", o.spec.Name, err)}).
			With("source", o.path).
			Fix("return None, a bool, number, string, or lists and dicts of them")
	}
	return res, nil
}

// runError keeps cluster and context errors as they are (the framework
// maps them) and reports a failing script as unprocessable with where it
// failed.
func (o *Operation) runError(ctx context.Context, err error, tooManySteps bool) error {
	var re *cluster.RPCError
	switch {
	case errors.As(err, &re):
		return re
	case ctx.Err() != nil:
		return fmt.Errorf("script: %s: %w", o.spec.Name, ctx.Err())
	}
	msg := scriptMessage(err)
	if tooManySteps {
		msg = fmt.Sprintf("step limit of %d exceeded (%s)", o.maxStep, msg)
	}
	e := (&operations.Error{Code: operations.CodeUnprocessable, Message: fmt.Sprintf("script %s failed: %s", o.spec.Name, msg), Err: err}).
		With("source", o.path)
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		e = e.With("backtrace", ee.Backtrace())
	}
	return e.Fix(fmt.Sprintf("fix %s; it is reloaded when saved", o.path))
}

// paramsDict converts validated params to a Starlark dict: durations as
// seconds, PIDs as strings, the rest as FromGo does.
func paramsDict(p operations.Params) (*starlark.Dict, error) {
	d := starlark.NewDict(len(p))
	for k, v := range p {
		var sv starlark.Value
		var err error
		switch x := v.(type) {
		case time.Duration:
			sv = starlark.Float(x.Seconds())
		default:
			sv, err = cscript.FromGo(x)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if err := d.SetKey(starlark.String(k), sv); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// declaration collects what operation() declared.
type declaration struct {
	spec *operations.Spec
}

func (d *declaration) operation(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if d.spec != nil {
		return nil, fmt.Errorf("%s: called twice: a file declares one operation", b.Name())
	}
	var (
		name, summary, description, result string
		category                           = DefaultCategory
		params                             *starlark.Dict
		destructive                        bool
		timeout                            starlark.Value = starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"name", &name, "summary", &summary, "category?", &category, "description?", &description,
		"params?", &params, "result?", &result, "destructive?", &destructive, "timeout?", &timeout); err != nil {
		return nil, err
	}
	spec := operations.Spec{Name: name, Category: category, Summary: summary, Description: description, Result: result, Destructive: destructive}
	if strings.TrimSpace(summary) == "" {
		return nil, fmt.Errorf("%s: summary must not be empty", b.Name())
	}
	if timeout != starlark.None {
		secs, ok := starlark.AsFloat(timeout)
		if !ok || secs <= 0 || math.IsNaN(secs) || secs > operations.MaxTimeout.Seconds() {
			return nil, fmt.Errorf("%s: timeout: want seconds in (0, %g], got %s", b.Name(), operations.MaxTimeout.Seconds(), timeout)
		}
		spec.Timeout = time.Duration(secs * float64(time.Second))
	}
	spec.Params = []operations.Param{}
	if params != nil {
		for _, item := range params.Items() {
			key, ok := starlark.AsString(item[0])
			if !ok {
				return nil, fmt.Errorf("%s: params: key %s is not a string", b.Name(), item[0])
			}
			p, ok := item[1].(*paramValue)
			if !ok {
				return nil, fmt.Errorf("%s: params[%q]: want param(...), got %s", b.Name(), key, item[1].Type())
			}
			pp := p.p
			pp.Name = key
			spec.Params = append(spec.Params, pp)
		}
		slices.SortFunc(spec.Params, func(a, b operations.Param) int { return strings.Compare(a.Name, b.Name) })
	}
	d.spec = &spec
	return starlark.None, nil
}

// paramValue is what param() returns: a parameter waiting for its name.
type paramValue struct{ p operations.Param }

var _ starlark.Value = (*paramValue)(nil)

func (v *paramValue) String() string        { return fmt.Sprintf("param(%q)", v.p.Type) }
func (v *paramValue) Type() string          { return "param" }
func (v *paramValue) Freeze()               {}
func (v *paramValue) Truth() starlark.Bool  { return starlark.True }
func (v *paramValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: param") }

func makeParam(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		typ, description, pattern, items string
		required                         bool
		def                              starlark.Value = starlark.None
		minV, maxV                       starlark.Value = starlark.None, starlark.None
		minLen, maxLen                   starlark.Value = starlark.None, starlark.None
		enum                             *starlark.List
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"type", &typ, "required?", &required, "default?", &def, "description?", &description,
		"min?", &minV, "max?", &maxV, "min_len?", &minLen, "max_len?", &maxLen,
		"pattern?", &pattern, "enum?", &enum, "items?", &items); err != nil {
		return nil, err
	}
	if !slices.Contains(operations.Types, typ) {
		return nil, fmt.Errorf("%s: type %q: want one of %s", b.Name(), typ, strings.Join(operations.Types, ", "))
	}
	p := operations.Param{Type: typ, Required: required, Description: description, Pattern: pattern, Items: items}
	if def != starlark.None {
		g, err := cscript.ToGo(def)
		if err != nil {
			return nil, fmt.Errorf("%s: default: %v", b.Name(), err)
		}
		p.Default = g
	}
	var err error
	if p.Min, err = optFloat(b.Name(), "min", minV); err != nil {
		return nil, err
	}
	if p.Max, err = optFloat(b.Name(), "max", maxV); err != nil {
		return nil, err
	}
	if p.MinLen, err = optInt(b.Name(), "min_len", minLen); err != nil {
		return nil, err
	}
	if p.MaxLen, err = optInt(b.Name(), "max_len", maxLen); err != nil {
		return nil, err
	}
	if enum != nil {
		for i := range enum.Len() {
			s, ok := starlark.AsString(enum.Index(i))
			if !ok {
				return nil, fmt.Errorf("%s: enum[%d]: want a string, got %s", b.Name(), i, enum.Index(i).Type())
			}
			p.Enum = append(p.Enum, s)
		}
	}
	return &paramValue{p: p}, nil
}

func optFloat(fn, name string, v starlark.Value) (*float64, error) {
	if v == starlark.None {
		return nil, nil
	}
	f, ok := starlark.AsFloat(v)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%s: %s: want a finite number, got %s", fn, name, v)
	}
	return &f, nil
}

func optInt(fn, name string, v starlark.Value) (*int, error) {
	if v == starlark.None {
		return nil, nil
	}
	var n int
	if err := starlark.AsInt(v, &n); err != nil || n < 0 {
		return nil, fmt.Errorf("%s: %s: want a non-negative int, got %s", fn, name, v)
	}
	return &n, nil
}
