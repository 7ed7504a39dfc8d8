//go:build unix && !linux

package ddblocal

import "syscall"

// sysProcAttr puts the JVM in its own process group, so Stop and Kill reach
// it and nothing else. (Only Linux can also tie its life to ours.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
