package sandbox_test

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills the child when the test binary dies.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
