package app

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// DesktopConfig configures the desktop command.
type DesktopConfig struct {
	CLIConfig
	// Assets is the built frontend embedded in the binary (nil: look for
	// frontend/dist on disk).
	Assets fs.FS
}

// HasDisplay reports whether a desktop window can open here.
func HasDisplay() bool {
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// NewDesktopCommand returns the default command: the desktop window on the
// project's restored session (the embedded simulator by default). It
// takes serve's flags (--data-dir, --project, --nodes, --seed, --join,
// --key, ...). Without a display, or in a binary built without the
// window, it serves the same UI in a browser instead (clusterlab serve).
func NewDesktopCommand(cfg DesktopConfig) *cobra.Command {
	serve := NewServeCommand(cfg.CLIConfig)
	cmd := &cobra.Command{
		Use:   "desktop",
		Short: "Open the desktop window on the embedded simulator (falls back to serve without a display)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !DesktopAvailable || !HasDisplay() {
				why := "no display (DISPLAY/WAYLAND_DISPLAY unset)"
				if !DesktopAvailable {
					why = "this binary has no desktop window (built without the desktop tag)"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "clusterlab: %s; serving the UI in a browser instead\n", why)
				return serve.RunE(cmd, args)
			}
			log, err := cfg.logger()
			if err != nil {
				return err
			}
			sc, err := serveConfigFromFlags(cmd)
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			started := time.Now()
			wb, err := OpenWorkbench(cmd.Context(), WorkbenchConfig{DataDir: sc.DataDir, Project: sc.Project, Workdir: sc.Workdir,
				Backend: sc.Backend, Overrides: sc.Overrides, Logger: log})
			if err != nil {
				return err
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = wb.Close(ctx)
			}()
			// --frontend DIR overrides the embedded UI (handy to try a
			// frontend build without rebuilding the binary).
			assets := cfg.Assets
			if dir := sc.FrontendDir; dir != "" || assets == nil {
				if disk, _ := findFrontend(dir); disk != nil || assets == nil {
					assets = disk
				}
			}
			api := wb.API(APIConfig{Token: "", Frontend: assets, Version: cfg.Version, Logger: log})
			log.Info("workbench ready", "after", time.Since(started), "project", wb.Project().Name())
			return runDesktop(cmd.Context(), wb, api, assets, "clusterlab")
		},
	}
	cmd.Flags().AddFlagSet(serve.Flags())
	return cmd
}
