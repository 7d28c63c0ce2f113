package dev

import "syscall"

// childAttr puts a child in its own process group and has the kernel kill
// it if the thread that started it (in practice: this process) dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
