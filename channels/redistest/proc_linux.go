//go:build linux

package redistest

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the node if the test binary dies
// without calling Close (for example on a -timeout panic).
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
