// Package events turns the write path's outbox (the Change table) into
// typed events and hands them to whoever listens: GraphQL subscriptions,
// webhooks, and later replication and scan-on-push.
//
// One dispatcher across all berth processes (it holds a lease) reads the
// outbox rows nobody has published yet, in id order, turns them into
// events, enqueues a webhook delivery job for every matching target, marks
// the rows published and then broadcasts the events: in-process by
// default, through Redis pub/sub to every process when --redis-url is set.
// A restart loses no event for webhooks, because a row stays unpublished
// until its deliveries are enqueued; live subscribers see the events that
// happen while they are connected.
package events

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// Type is what kind of thing happened.
type Type string

// The event types.
const (
	PushArtifact       Type = "PUSH_ARTIFACT"
	PullArtifact       Type = "PULL_ARTIFACT"
	DeleteArtifact     Type = "DELETE_ARTIFACT"
	TagCreated         Type = "TAG_CREATED"
	TagDeleted         Type = "TAG_DELETED"
	QuotaWarning       Type = "QUOTA_WARNING"
	QuotaExceeded      Type = "QUOTA_EXCEEDED"
	RetentionCompleted Type = "RETENTION_COMPLETED"
	GCCompleted        Type = "GC_COMPLETED"
	// ScanCompleted: a vulnerability scan of an artifact finished, with
	// or without success; its detail says how it went.
	ScanCompleted Type = "SCAN_COMPLETED"
)

// Types lists every event type, in the order the API documents them.
var Types = []Type{
	PushArtifact, PullArtifact, DeleteArtifact, TagCreated, TagDeleted,
	QuotaWarning, QuotaExceeded, RetentionCompleted, GCCompleted, ScanCompleted,
}

// Valid reports whether t is one of Types.
func (t Type) Valid() bool {
	for _, k := range Types {
		if t == k {
			return true
		}
	}
	return false
}

// MarshalGQL writes the type as a GraphQL enum value.
func (t Type) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(t))) }

// UnmarshalGQL reads a GraphQL enum value.
func (t *Type) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	if !Type(s).Valid() {
		return fmt.Errorf("%q is not an EventType", v)
	}
	*t = Type(s)
	return nil
}

// Event is one thing that happened. Its ID is the outbox row it came
// from, so IDs grow in the order events were recorded and a receiver can
// drop a duplicate.
type Event struct {
	ID         int            `json:"id"`
	Type       Type           `json:"type"`
	Project    string         `json:"project,omitempty"`
	Repository string         `json:"repository,omitempty"`
	Digest     string         `json:"digest,omitempty"`
	MediaType  string         `json:"mediaType,omitempty"`
	Tags       []string       `json:"tags"`
	Size       int64          `json:"size,omitempty"`
	Actor      string         `json:"actor,omitempty"`
	OccurredAt time.Time      `json:"occurredAt"`
	Detail     map[string]any `json:"detail,omitempty"`
}
