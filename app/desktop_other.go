//go:build !desktop

package app

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
)

// DesktopAvailable reports whether this binary was built with the Wails
// desktop shell (the desktop build tag).
const DesktopAvailable = false

func runDesktop(context.Context, *Workbench, http.Handler, fs.FS, string) error {
	return errors.New("app: this binary was built without the desktop window (build tags desktop,production,webkit2_41)")
}
