//go:build linux

package log

const sendfileSupported = true

func sendfileCount() int64 { return sendfileBytes.Load() }
