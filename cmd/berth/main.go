// Command berth is the berth registry: one binary that serves the OCI
// distribution API, GraphQL and the portal, and administers them.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/berth-registry/berth/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	err := newRootCommand().Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "berth:", err)
	var cerr *config.Error
	var uerr usageError
	if errors.As(err, &cerr) || errors.As(err, &uerr) {
		os.Exit(2)
	}
	os.Exit(1)
}

// usageError is a mistake in how the command was called; it exits with 2.
type usageError struct{ error }
