//go:build desktop

package app

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/menu"
	"github.com/wailsapp/wails/v2/pkg/menu/keys"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// DesktopAvailable reports whether this binary was built with the Wails
// desktop shell (the desktop build tag).
const DesktopAvailable = true

// shell is the thin Wails binding surface: it forwards hub events to the
// window and menu actions to the frontend; everything else goes through the
// same HTTP API the browser uses.
type shell struct {
	wb  *Workbench
	ctx context.Context
	sub *Subscription
}

// processStart is when the process was launched, for the "interactive
// within N s of launch" figure the shell logs: from /proc on Linux (so the
// dynamic loading of GTK and WebKit counts), else the package's init.
var processStart = launchTime(time.Now())

// launchTime reads the process's start from /proc/self/stat (field 22,
// clock ticks since boot, at the usual 100 Hz) and /proc/uptime; it returns
// fallback when they are missing or malformed.
func launchTime(fallback time.Time) time.Time {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return fallback
	}
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return fallback
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return fallback
	}
	fields := strings.Fields(string(stat)[i+1:])
	uf := strings.Fields(string(up))
	if len(fields) < 20 || len(uf) < 1 {
		return fallback
	}
	ticks, err1 := strconv.ParseUint(fields[19], 10, 64)
	uptime, err2 := strconv.ParseFloat(uf[0], 64)
	if err1 != nil || err2 != nil {
		return fallback
	}
	age := time.Duration((uptime - float64(ticks)/100) * float64(time.Second))
	if age < 0 || age > time.Minute {
		return fallback
	}
	return time.Now().Add(-age)
}

// readyEvent is the Wails event the page emits once it has mounted and
// painted (frontend/src/lib/api: READY_EVENT).
const readyEvent = "app:ready"

// startup subscribes the window to the event hub: each event reaches the
// frontend as a Wails event named after its topic (for example
// "membership") carrying the event's data, as the SSE stream sends it to a
// browser. It also logs when the page reports that it is interactive.
func (s *shell) startup(ctx context.Context) {
	s.ctx = ctx
	log := s.wb.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	runtime.EventsOnce(ctx, readyEvent, func(...any) {
		log.Info("desktop window ready", "since_launch", time.Since(processStart).Round(time.Millisecond))
	})
	// The workbench's hub outlives mode switches, so the window keeps
	// receiving events from whichever cluster is current.
	s.sub = s.wb.Hub().Subscribe(0, false)
	go func() {
		for ev := range s.sub.C {
			runtime.EventsEmit(ctx, ev.Topic, ev.Data)
		}
	}()
}

func (s *shell) shutdown(context.Context) {
	if s.sub != nil {
		s.sub.Cancel()
	}
}

// menu builds the native menu: the main actions with their shortcuts. Each
// item tells the frontend what to do through a "menu:action" event.
func (s *shell) menu() *menu.Menu {
	emit := func(action string) func(*menu.CallbackData) {
		return func(*menu.CallbackData) { runtime.EventsEmit(s.ctx, "menu:action", action) }
	}
	m := menu.NewMenu()
	file := m.AddSubmenu("File")
	file.AddText("Command palette", keys.CmdOrCtrl("k"), emit("palette"))
	file.AddText("Connect to cluster…", keys.CmdOrCtrl("o"), emit("connect"))
	file.AddSeparator()
	file.AddText("Quit", keys.CmdOrCtrl("q"), func(*menu.CallbackData) { runtime.Quit(s.ctx) })
	view := m.AddSubmenu("View")
	for i, v := range []string{"topology", "processes", "registry", "supervisors", "sandboxes", "traces", "simulator", "health"} {
		view.AddText(v, keys.CmdOrCtrl(fmt.Sprint(i+1)), emit("view:"+v))
	}
	cl := m.AddSubmenu("Cluster")
	cl.AddText("Heal all partitions", keys.Combo("h", keys.CmdOrCtrlKey, keys.ShiftKey), emit("heal"))
	cl.AddText("Reload", keys.CmdOrCtrl("r"), func(*menu.CallbackData) { runtime.WindowReloadApp(s.ctx) })
	return m
}

// runDesktop opens the window on the workbench and blocks until it closes.
// The API is served to the window through Wails' asset server handler, so
// the frontend uses the same fetch calls as in a browser.
func runDesktop(ctx context.Context, wb *Workbench, api http.Handler, assets fs.FS, title string) error {
	s := &shell{wb: wb}
	return wails.Run(&options.App{
		Title:     title,
		Width:     1280,
		Height:    820,
		MinWidth:  900,
		MinHeight: 600,
		Menu:      s.menu(),
		AssetServer: &assetserver.Options{
			Assets:  assets,
			Handler: api,
		},
		BackgroundColour: &options.RGBA{R: 17, G: 24, B: 39, A: 255},
		// Built with the debug tag, CLUSTERLAB_INSPECTOR=1 opens the web
		// inspector with the window.
		Debug:      options.Debug{OpenInspectorOnStartup: os.Getenv("CLUSTERLAB_INSPECTOR") != ""},
		OnStartup:  s.startup,
		OnShutdown: s.shutdown,
		Bind:       []any{s},
	})
}
