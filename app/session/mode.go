package session

import "slices"

// SwitchMode returns the session as it should be after switching from
// s.Mode to newMode (ModeSimulator or a profile name). It is pure: the
// caller saves the result.
//
// The debugging session survives the switch: the view, filters, sort,
// panel sizes, open traces and pins are kept (the operation history and
// saved traces live beside the session and are not touched). Pins follow
// these rules:
//
//   - a pin by registered name follows the name: namesInNewMode(name) is
//     asked where it lives in the new mode; when it resolves, its pid is
//     pinned (replacing the pid it had in the old mode) and recorded in
//     Pins.ByName; when it does not, the name stays pinned, unresolved;
//   - a pin by pid names a process of one cluster: it is kept, and listed
//     in Pins.Stale unless newMode is the mode it was pinned in (recorded
//     in Pins.Origins; a pin without an origin belongs to s.Mode).
//
// The selection follows its name when it was a name-pinned pid, and is
// otherwise cleared (it named something of the old cluster) unless the
// mode does not change. namesInNewMode may be nil (no name resolves).
func SwitchMode(s Session, newMode string, namesInNewMode func(name string) (pid string, ok bool)) Session {
	out := s.Clone()
	if newMode == "" {
		newMode = ModeSimulator
	}
	oldMode := s.Mode
	if oldMode == "" {
		oldMode = ModeSimulator
	}
	out.Mode = newMode
	if newMode == oldMode {
		return out
	}
	pins := &out.UI.Pins

	// Pids that were only there because a name resolved to them in the
	// old mode, and which name each was.
	derived := map[string]string{}
	for name, pid := range pins.ByName {
		derived[pid] = name
	}
	explicit := make([]string, 0, len(pins.Processes))
	for _, pid := range pins.Processes {
		if _, ok := derived[pid]; !ok && !slices.Contains(explicit, pid) {
			explicit = append(explicit, pid)
		}
	}

	origins := map[string]string{}
	for _, pid := range explicit {
		origin := pins.Origins[pid]
		if origin == "" {
			origin = oldMode
		}
		origins[pid] = origin
	}

	byName := map[string]string{}
	processes := slices.Clone(explicit)
	for _, name := range pins.Names {
		if namesInNewMode == nil {
			break
		}
		pid, ok := namesInNewMode(name)
		if !ok || pid == "" {
			continue
		}
		byName[name] = pid
		if !slices.Contains(processes, pid) {
			processes = append(processes, pid)
		}
	}

	resolvedPIDs := reverse(byName)
	var stale []string
	for _, pid := range explicit {
		if origins[pid] == newMode {
			continue
		}
		if _, resolved := resolvedPIDs[pid]; resolved {
			continue // the pid is also what a pinned name resolves to here
		}
		stale = append(stale, pid)
	}

	// The selection follows a name it was reached through.
	if sel := out.UI.Selection; sel != "" {
		name, wasName := derived[sel]
		switch {
		case wasName && byName[name] != "":
			out.UI.Selection = byName[name]
		case slices.Contains(pins.Names, sel):
			// A selected name stays selected.
		default:
			out.UI.Selection = ""
		}
	}

	pins.Processes = nilIfEmpty(processes)
	pins.ByName = nilIfEmptyMap(byName)
	pins.Stale = nilIfEmpty(stale)
	pins.Origins = nilIfEmptyMap(origins)
	return out
}

func reverse(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func nilIfEmptyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
