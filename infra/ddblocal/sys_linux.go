package ddblocal

import "syscall"

// sysProcAttr puts the JVM in its own process group, so Stop and Kill reach
// it and nothing else, and has the kernel kill it if this process dies
// first (a test binary killed by its timeout would otherwise leave a JVM
// holding a port forever).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
