//go:build linux

package main

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill a test's redis-server if the test binary
// dies without stopping it (a -timeout panic).
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
