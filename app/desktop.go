//go:build desktop

package app

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"

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
	backend *Backend
	ctx     context.Context
	sub     *Subscription
}

// startup subscribes the window to the event hub: each event reaches the
// frontend as a Wails event named after its topic (for example
// "membership"), and as "hub:event" with the whole envelope.
func (s *shell) startup(ctx context.Context) {
	s.ctx = ctx
	s.sub = s.backend.Hub.Subscribe(0, false)
	go func() {
		for ev := range s.sub.C {
			runtime.EventsEmit(ctx, "hub:event", ev)
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

// runDesktop opens the window on the backend and blocks until it closes.
// The API is served to the window through Wails' asset server handler, so
// the frontend uses the same fetch calls as in a browser.
func runDesktop(ctx context.Context, b *Backend, api http.Handler, assets fs.FS, title string) error {
	s := &shell{backend: b}
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
