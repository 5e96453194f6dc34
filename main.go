// Command clusterlab is a workbench for people who build distributed
// systems: an embedded simulated cluster, connections to real clusters, and
// operations to inspect and break them.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/clusterlab/clusterlab/app"
	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/frontend"
	"github.com/clusterlab/clusterlab/simulator"
	"github.com/clusterlab/clusterlab/simulator/scenario"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCmd().ExecuteContext(ctx); err != nil {
		code := 1
		var ee *app.ExitError
		if errors.As(err, &ee) {
			code = ee.Code
			if ee.Reported {
				stop()
				os.Exit(code)
			}
		}
		fmt.Fprintln(os.Stderr, "clusterlab:", err)
		stop()
		os.Exit(code)
	}
}

type globalFlags struct {
	logLevel string
}

func rootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "clusterlab",
		Short:         "A workbench for distributed systems: simulate, connect, inspect and break clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	sim := simCmd(g)
	cli := app.CLIConfig{Version: version, Logger: g.logger}
	desktop := app.NewDesktopCommand(app.DesktopConfig{CLIConfig: cli, Assets: frontend.Dist()})
	root.AddCommand(desktop, sim, versionCmd(), keyCmd(), app.NewServeCommand(cli), app.NewOpCommand(cli), scenarioCmd(g))
	root.AddCommand(app.NewAgentCommand(cli))
	// The default is the desktop window (or, without a display, serve).
	root.RunE = desktop.RunE
	root.Flags().AddFlagSet(desktop.Flags())
	return root
}

func (g *globalFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), nil
}

func simCmd(g *globalFlags) *cobra.Command {
	var (
		nodes    int
		seed     int64
		profile  string
		interval time.Duration
		duration time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the embedded simulator with demo workloads and print a live summary",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if interval <= 0 {
				return fmt.Errorf("--interval must be positive")
			}
			sim, err := simulator.New(simulator.Config{
				Nodes: nodes, Seed: seed, Profile: cluster.Profile(profile),
				Setup: workload.Register, Logger: log,
			})
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			started := time.Now()
			fmt.Fprintf(cmd.OutOrStdout(), "starting %d virtual nodes (seed %d)...\n", nodes, seed)
			if err := sim.Start(ctx); err != nil {
				return err
			}
			defer func() {
				closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = sim.Close(closeCtx)
			}()
			waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err = sim.WaitConverged(waitCtx)
			cancel()
			if err != nil {
				return err
			}
			if err := sim.StartDemo(ctx); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			tty := false
			if f, ok := out.(*os.File); ok {
				tty = term.IsTerminal(int(f.Fd()))
			}
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				if tty {
					fmt.Fprint(out, "\033[H\033[2J")
				}
				if err := sim.WriteSummary(out, started); err != nil {
					return err
				}
				fmt.Fprintln(out)
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
			}
		},
	}
	f := cmd.Flags()
	f.IntVar(&nodes, "nodes", 5, "number of virtual nodes")
	f.Int64Var(&seed, "seed", 1, "seed of the simulated network's randomness")
	f.StringVar(&profile, "profile", string(cluster.ProfileSim), "membership profile: sim, local or lan")
	f.DurationVar(&interval, "interval", time.Second, "how often to print the summary")
	f.DurationVar(&duration, "duration", 0, "stop after this long (0: until interrupted)")
	return cmd
}

func scenarioCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "scenario", Short: "Replay simulator scenarios (YAML)"}
	var seed int64
	run := &cobra.Command{
		Use:   "run FILE...",
		Short: "Run scenario files on a fresh simulator; exits non-zero when a step fails",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			failed := 0
			for _, f := range files {
				sc, err := scenario.Load(f)
				if err != nil {
					return &app.ExitError{Code: 2, Err: err}
				}
				rep, err := scenario.Run(cmd.Context(), sc, scenario.RunOptions{Out: cmd.OutOrStdout(), Seed: seed, Logger: log})
				if err != nil {
					return err
				}
				if !rep.Passed {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d scenarios failed", failed, len(files))
			}
			return nil
		},
	}
	run.Flags().Int64Var(&seed, "seed", 0, "override the scenario's seed")
	cmd.AddCommand(run)
	return cmd
}

// keyCmd prints a new random gossip encryption key (AES-256, base64), for
// `clusterlab agent --key` and the connect dialog.
func keyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "key",
		Short: "Print a new random gossip encryption key (32 bytes, base64)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := cluster.NewKey()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k)
			return nil
		},
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the clusterlab version",
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "clusterlab", version)
		},
	}
}
