package dev

import "syscall"

// childAttr has no process-group setting on Windows: children share the
// console, and Ctrl-C reaches them directly.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{}
}
