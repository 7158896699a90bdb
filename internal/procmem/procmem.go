// Package procmem hands memory that start-up used and serving does not
// back to the operating system.
package procmem

import "runtime/debug"

// ReleaseStartup is called once the server is serving. It returns the
// heap's garbage from start-up (migrations, the GraphQL schema, the first
// admin's password hash) to the operating system, and, on Linux, unmaps
// the pages of berth's own code and read-only data that start-up touched.
//
// Why the second: the kernel maps a binary's code 64 KiB around every page
// a process touches, and start-up runs code that serving never runs again
// (schema migration, the job queue's set-up, every package's
// initialisation). Those pages stayed in the process's resident set, 10 to
// 20 MiB of a 60 MiB idle registry. Unmapped, they stay in the page cache
// as clean, reclaimable file pages; what serving needs faults back in on
// first use, at the cost of a minor page fault. Only mappings of the
// executable that were never writable are touched, so no data can be lost.
//
// It returns how many bytes of code mappings it released (0 where the
// platform does not support it).
func ReleaseStartup() int64 {
	debug.FreeOSMemory()
	return releaseCode()
}
