//go:build !linux

package procmem

func releaseCode() int64 { return 0 }
