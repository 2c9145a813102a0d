//go:build !linux

package redistest

import "os/exec"

// setParentDeathSignal does nothing outside Linux: Close must stop the nodes.
func setParentDeathSignal(*exec.Cmd) {}
