// Command gobin is a Go binary for the inventory tests: its module info
// lists github.com/google/uuid.
package main

import (
	"fmt"

	"github.com/google/uuid"
)

func main() { fmt.Println(uuid.NewString()) }
