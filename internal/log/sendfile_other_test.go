//go:build !linux

package log

const sendfileSupported = false

func sendfileCount() int64 { return 0 }
