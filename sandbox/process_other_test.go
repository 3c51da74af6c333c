//go:build !linux

package sandbox_test

import "os/exec"

// setDeathSignal does nothing where the system offers no death signal;
// the test's cleanup still stops the child.
func setDeathSignal(*exec.Cmd) {}
