//go:build !desktop

// Package frontend holds the built web UI (frontend/dist) for the desktop
// binary, which embeds it. Other builds serve frontend/dist from disk.
package frontend

import "io/fs"

// Dist returns nil: only the desktop build embeds the frontend.
func Dist() fs.FS { return nil }
