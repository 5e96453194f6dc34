package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
	opscript "github.com/clusterlab/clusterlab/operations/script"
)

// CLIConfig is what the serve and op commands need from main.
type CLIConfig struct {
	// Version is the clusterlab version.
	Version string
	// Logger builds the logger from the global flags; nil discards logs.
	Logger func() (*slog.Logger, error)
}

func (c CLIConfig) logger() (*slog.Logger, error) {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler), nil
	}
	return c.Logger()
}

// ExitError carries a command's exit code. When Reported is set the
// command has already printed the error and main should only exit.
type ExitError struct {
	Code     int
	Err      error
	Reported bool
}

// Error implements error.
func (e *ExitError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *ExitError) Unwrap() error { return e.Err }

// Exit codes of `clusterlab op`.
const (
	// ExitFailed: the operation ran and failed, or the server is unreachable.
	ExitFailed = 1
	// ExitUsage: bad arguments, or a destructive operation without --yes.
	ExitUsage = 2
)

// NewServeCommand returns `clusterlab serve`.
func NewServeCommand(cfg CLIConfig) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the embedded simulator (or join a cluster) and serve the HTTP API (and the web UI when built) on 127.0.0.1",
		Long: "serve restores the project's session from the session store in --data-dir (the simulator with its saved\n" +
			"settings, or its saved connection), joins the cluster as the observer node, and serves the HTTP API (REST,\n" +
			"OpenAPI, Server-Sent Events) on 127.0.0.1 behind a random bearer token. The address and token go to\n" +
			"<data-dir>/serve.lock (mode 0600), where `clusterlab op` finds them. --nodes, --seed and --join given\n" +
			"explicitly win over the saved session and are saved.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := cfg.logger()
			if err != nil {
				return err
			}
			sc, err := serveConfigFromFlags(cmd)
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			sc.Version, sc.Logger, sc.Out = cfg.Version, log, cmd.OutOrStdout()
			return Serve(cmd.Context(), sc)
		},
	}
	addWorkbenchFlags(cmd)
	f := cmd.Flags()
	f.String("addr", "127.0.0.1:0", "address of the HTTP API (port 0: a free port)")
	f.String("frontend", "", "directory of the built frontend (default: frontend/dist when present)")
	return cmd
}

// addWorkbenchFlags declares the flags serve and the desktop window share:
// the session store, the project, and the mode.
func addWorkbenchFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Int("nodes", 5, "number of virtual worker nodes (given explicitly: wins over the saved session, and is saved)")
	f.Int64("seed", 1, "seed of the simulated network's randomness (given explicitly: wins over the saved session, and is saved)")
	f.String("profile", string(cluster.ProfileSim), "membership profile: sim, local or lan (lan with --join unless given)")
	f.Bool("no-demo", false, "do not start the demo workloads")
	f.StringSlice("join", nil, "connect to a real cluster through these gossip addresses (host:port) instead of starting the simulator (saved as a connection profile)")
	f.String("label", "", "the cluster's gossip label (with --join)")
	f.String("key", "", "the cluster's gossip encryption key, base64 (with --join; never saved; prefer --key-file)")
	f.String("key-file", "", "file holding the gossip key (base64)")
	f.String("data-dir", "", "directory of the session store and the lock file (default: the user config dir/clusterlab)")
	f.String("project", "", "project name (default: derived from the project directory)")
	f.String("project-dir", ".", "project directory: names the project, and script operations are loaded from <project-dir>/.clusterlab/operations/*.star and reloaded on change")
}

// maxServeKeyBytes bounds what --key-file reads.
const maxServeKeyBytes = 4 << 10

// serveConfigFromFlags reads the workbench flags (addWorkbenchFlags) and
// serve's own: only flags given explicitly override the saved session.
func serveConfigFromFlags(cmd *cobra.Command) (ServeConfig, error) {
	f := cmd.Flags()
	str := func(name string) string { v, _ := f.GetString(name); return v }
	var sc ServeConfig
	projectDir := str("project-dir")
	if projectDir == "" {
		projectDir = "."
	}
	abs, err := filepath.Abs(projectDir)
	if err != nil {
		return sc, fmt.Errorf("--project-dir %q: %w", projectDir, err)
	}
	noDemo, _ := f.GetBool("no-demo")
	join, _ := f.GetStringSlice("join")
	profile := str("profile")
	sc.Backend = BackendConfig{Profile: cluster.Profile(profile), NoDemo: noDemo, ScriptsDir: opscript.Dir(abs)}
	sc.Project, sc.Workdir, sc.DataDir, sc.Addr, sc.FrontendDir = str("project"), abs, str("data-dir"), str("addr"), str("frontend")
	if f.Changed("nodes") {
		sc.Overrides.Nodes, _ = f.GetInt("nodes")
		if sc.Overrides.Nodes <= 0 {
			return sc, fmt.Errorf("--nodes must be at least 1")
		}
	}
	if f.Changed("seed") {
		sc.Overrides.Seed, _ = f.GetInt64("seed")
		sc.Overrides.SeedSet = true
	}
	key := str("key")
	if kf := str("key-file"); kf != "" {
		if key != "" {
			return sc, fmt.Errorf("give --key or --key-file, not both")
		}
		if key, err = readServeKeyFile(kf); err != nil {
			return sc, err
		}
	}
	if key != "" {
		if _, err := cluster.ParseKey(key); err != nil {
			return sc, fmt.Errorf("--key: %w", err)
		}
	}
	sc.Overrides.Key, sc.Overrides.Label = key, str("label")
	if len(join) > 0 {
		sc.Overrides.Join = join
		sc.Overrides.Profile = string(cluster.ProfileLAN)
		if f.Changed("profile") {
			sc.Overrides.Profile = profile
		}
		// The simulator keeps its own profile.
		sc.Backend.Profile = ""
	}
	return sc, nil
}

// readKeyFile reads a gossip key file (bounded).
func readServeKeyFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--key-file: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxServeKeyBytes+1))
	if err != nil {
		return "", fmt.Errorf("--key-file %s: %w", path, err)
	}
	if len(b) > maxServeKeyBytes {
		return "", fmt.Errorf("--key-file %s: larger than %d bytes; it should hold one base64 key", path, maxServeKeyBytes)
	}
	return strings.TrimSpace(string(b)), nil
}

// opFlags are the flags every `op` subcommand shares.
type opFlags struct {
	addr, token, dataDir string
	timeout              time.Duration
	json                 bool
}

func (o *opFlags) client() (*Client, error) {
	c, err := ResolveServer(o.addr, o.token, o.dataDir)
	if err != nil {
		return nil, &ExitError{Code: ExitFailed, Err: err}
	}
	if c.HTTP == nil {
		// Runs from the CLI are kept in the project's history.
		c.HTTP = &http.Client{Timeout: 2 * time.Minute, Transport: sourceTransport{source: "cli", next: http.DefaultTransport}}
	}
	return c, nil
}

// sourceTransport names the requests' source (SourceHeader).
type sourceTransport struct {
	source string
	next   http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t sourceTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(SourceHeader, t.source)
	return t.next.RoundTrip(r)
}

func (o *opFlags) ctx(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, o.timeout)
}

// NewOpCommand returns `clusterlab op` with list, describe and run.
func NewOpCommand(cfg CLIConfig) *cobra.Command {
	o := &opFlags{}
	cmd := &cobra.Command{
		Use:   "op",
		Short: "List, describe and run operations on a running clusterlab (serve, desktop or agent)",
		Long: "op talks to a running clusterlab through its HTTP API. It finds the server through --addr and --token,\n" +
			"else the CLUSTERLAB_ADDR and CLUSTERLAB_TOKEN environment variables, else the lock file that\n" +
			"`clusterlab serve` writes into --data-dir.",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.addr, "addr", "", "server address host:port or URL (default: $"+EnvAddr+", else the lock file)")
	pf.StringVar(&o.token, "token", "", "bearer token (default: $"+EnvToken+", else the lock file)")
	pf.StringVar(&o.dataDir, "data-dir", "", "directory of the serve lock file (default: the user config dir/clusterlab)")
	pf.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long")
	pf.BoolVar(&o.json, "json", false, "print JSON instead of tables")
	cmd.AddCommand(opListCmd(o), opDescribeCmd(o), opRunCmd(o))
	return cmd
}

func opListCmd(o *opFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the operations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ctx, cancel := o.ctx(cmd)
			defer cancel()
			cat, err := c.Catalog(ctx)
			if err != nil {
				return reportError(cmd, err)
			}
			out := cmd.OutOrStdout()
			if o.json {
				return printJSON(out, cat)
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCATEGORY\tFLAGS\tSUMMARY")
			for _, e := range cat.Operations {
				if e.LoadError != "" {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, "broken", "load-error", oneLine("failed to load from "+e.Source+": "+e.LoadError, 120))
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Category, opFlagsText(e.Spec), e.Summary)
			}
			return tw.Flush()
		},
	}
}

func opFlagsText(s operations.Spec) string {
	var f []string
	if s.Destructive {
		f = append(f, "destructive")
	}
	if s.SimulatorOnly {
		f = append(f, "sim-only")
	}
	if len(f) == 0 {
		return "-"
	}
	return strings.Join(f, ",")
}

func opDescribeCmd(o *opFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "describe NAME",
		Short:             "Show an operation's parameters and result",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: o.completeOperation,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ctx, cancel := o.ctx(cmd)
			defer cancel()
			e, err := c.Describe(ctx, args[0])
			if err != nil {
				return reportError(cmd, err)
			}
			out := cmd.OutOrStdout()
			if o.json {
				return printJSON(out, e)
			}
			writeDescription(out, e)
			return nil
		},
	}
}

func writeDescription(out io.Writer, e operations.CatalogEntry) {
	if e.LoadError != "" {
		fmt.Fprintf(out, "%s failed to load from %s:\n  %s\n", e.Name, e.Source, e.LoadError)
		return
	}
	fmt.Fprintf(out, "%s (%s): %s\n", e.Name, e.Category, e.Summary)
	if e.Description != "" {
		fmt.Fprintf(out, "\n%s\n", e.Description)
	}
	var notes []string
	if e.Destructive {
		notes = append(notes, "destructive: `op run` needs --yes")
	}
	if e.SimulatorOnly {
		notes = append(notes, "simulator only")
	}
	notes = append(notes, fmt.Sprintf("timeout %s", time.Duration(e.TimeoutMS)*time.Millisecond), "source "+e.Source)
	fmt.Fprintf(out, "\n%s\n", strings.Join(notes, "; "))
	if len(e.Params) == 0 {
		fmt.Fprintln(out, "\nParameters: none")
	} else {
		fmt.Fprintln(out, "\nParameters:")
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tTYPE\tREQUIRED\tDEFAULT\tCONSTRAINTS\tDESCRIPTION")
		for _, p := range e.Params {
			req := "no"
			if p.Required {
				req = "yes"
			}
			def := "-"
			if p.Default != nil {
				def = compactJSON(p.Default, 30)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", p.Name, paramType(p), req, def, constraints(p), p.Description)
		}
		_ = tw.Flush()
	}
	if e.Result != "" {
		fmt.Fprintf(out, "\nResult: %s\n", e.Result)
	}
	fmt.Fprintf(out, "\nRun: clusterlab op run %s", e.Name)
	for _, p := range e.Params {
		if p.Required {
			fmt.Fprintf(out, " %s=…", p.Name)
		}
	}
	if e.Destructive {
		fmt.Fprint(out, " --yes")
	}
	fmt.Fprintln(out)
}

func paramType(p operations.Param) string {
	if p.Type == operations.TypeList && p.Items != "" {
		return "list of " + p.Items
	}
	return p.Type
}

func constraints(p operations.Param) string {
	var c []string
	if p.Min != nil {
		c = append(c, fmt.Sprintf("min %v", *p.Min))
	}
	if p.Max != nil {
		c = append(c, fmt.Sprintf("max %v", *p.Max))
	}
	if p.MinLen != nil {
		c = append(c, fmt.Sprintf("min length %d", *p.MinLen))
	}
	if p.MaxLen != nil {
		c = append(c, fmt.Sprintf("max length %d", *p.MaxLen))
	}
	if p.Pattern != "" {
		c = append(c, "pattern "+p.Pattern)
	}
	if len(p.Enum) > 0 {
		c = append(c, "one of "+strings.Join(p.Enum, "|"))
	}
	if len(c) == 0 {
		return "-"
	}
	return strings.Join(c, ", ")
}

func opRunCmd(o *opFlags) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "run NAME [key=value ...]",
		Short: "Run an operation; values are coerced by the server (limit=5, desc=true, timeout=2s, pid=node-1/4)",
		Long: "run runs an operation with key=value parameters. A key given twice makes a list; lists can also be\n" +
			"written a,b (and lists of lists a,b;c,d), objects as JSON ('args={\"interval\":\"1s\"}').\n" +
			"Destructive operations refuse to run without --yes.",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: o.completeRun,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			params, err := parseKeyValues(args[1:])
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			ctx, cancel := o.ctx(cmd)
			defer cancel()
			e, err := c.Describe(ctx, name)
			if err != nil {
				return reportError(cmd, err)
			}
			if e.Destructive && !yes {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s is destructive and was not run.\nRe-run with --yes to confirm: clusterlab op run %s --yes\n", name, strings.Join(args, " "))
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s is destructive: confirm with --yes", name), Reported: true}
			}
			res, err := c.Run(ctx, name, params, yes)
			if err != nil {
				return reportError(cmd, err)
			}
			out := cmd.OutOrStdout()
			if o.json {
				var buf bytes.Buffer
				if json.Indent(&buf, res, "", "  ") != nil {
					buf.Reset()
					buf.Write(res)
				}
				buf.WriteByte('\n')
				_, err := out.Write(buf.Bytes())
				return err
			}
			return renderResult(out, res)
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm a destructive operation")
	return cmd
}

// parseKeyValues turns key=value arguments into raw parameters; a key
// given twice becomes a list.
func parseKeyValues(args []string) (map[string]any, error) {
	params := map[string]any{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("argument %q: want key=value", a)
		}
		switch cur := params[k].(type) {
		case nil:
			params[k] = v
		case string:
			params[k] = []any{cur, v}
		case []any:
			params[k] = append(cur, v)
		}
	}
	return params, nil
}

// reportError prints an API error with its details and remediation and
// returns an ExitError that main only exits with.
func reportError(cmd *cobra.Command, err error) error {
	w := cmd.ErrOrStderr()
	var ae *APIError
	if !errors.As(err, &ae) {
		fmt.Fprintf(w, "error: %v\n", err)
		return &ExitError{Code: ExitFailed, Err: err, Reported: true}
	}
	body := ae.Body
	fmt.Fprintf(w, "error: %s\n  code: %s (HTTP %d)\n", body.Message, body.Code, ae.Status)
	for _, k := range sortedDetailKeys(body.Details) {
		if k == "params" {
			if list, ok := body.Details[k].([]any); ok {
				for _, item := range list {
					if m, ok := item.(map[string]any); ok {
						fmt.Fprintf(w, "  param %v: %v\n", m["param"], m["message"])
					}
				}
				continue
			}
		}
		fmt.Fprintf(w, "  %s: %s\n", k, compactJSON(body.Details[k], 200))
	}
	if body.Remediation != "" {
		fmt.Fprintf(w, "what to do: %s\n", body.Remediation)
	}
	code := ExitFailed
	if ae.Status == 400 || ae.Status == 404 && body.Code == operations.CodeUnknownOperation {
		code = ExitUsage
	}
	return &ExitError{Code: code, Err: err, Reported: true}
}

func sortedDetailKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// completeOperation completes operation names from the server's catalog.
func (o *opFlags) completeOperation(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := o.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cat, err := c.Catalog(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, e := range cat.Operations {
		if strings.HasPrefix(e.Name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(e.Name, e.Summary))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeRun completes the operation name, then its parameter names.
func (o *opFlags) completeRun(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return o.completeOperation(cmd, args, toComplete)
	}
	c, err := o.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e, err := c.Describe(ctx, args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, p := range e.Params {
		if strings.HasPrefix(p.Name+"=", toComplete) {
			out = append(out, cobra.CompletionWithDesc(p.Name+"=", p.Description))
		}
		if k, _, ok := strings.Cut(toComplete, "="); ok && k == p.Name {
			for _, v := range p.Enum {
				out = append(out, cobra.Completion(k+"="+v))
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}
