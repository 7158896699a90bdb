// Package ent holds the data model's generated client; the hand-written
// schema is in ent/schema.
package ent

//go:generate sh -c "cd .. && go run -mod=mod ./ent/entc.go"
