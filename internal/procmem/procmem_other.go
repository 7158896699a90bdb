//go:build !linux

package procmem

func releaseCode() int64 { return 0 }

func residentBytes() int64 { return 0 }
