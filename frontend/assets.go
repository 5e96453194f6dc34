//go:build desktop

// Package frontend holds the built web UI (frontend/dist) for the desktop
// binary, which embeds it. Build it first with `npm run build`.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built frontend.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil
	}
	return sub
}
