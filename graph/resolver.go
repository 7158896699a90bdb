// Package graph is berth's GraphQL API: gqlgen resolvers over the ent
// client and the services in internal/. Resolvers stay thin: they parse
// input, call a service or ent, and return.
package graph

import (
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/oidc"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/projects"
	"github.com/berth-registry/berth/internal/pullpolicy"
	"github.com/berth-registry/berth/internal/retention"
	"github.com/berth-registry/berth/internal/scan/scanner"
	"github.com/berth-registry/berth/internal/webhooks"
)

// Resolver holds what every resolver needs; internal/server builds it.
type Resolver struct {
	DB              *database.DB
	Auth            *auth.Service
	ProjectService  *projects.Service
	ArtifactService *artifacts.Service
	Audit           *audit.Recorder
	// GC runs garbage collections.
	GC *gc.Collector
	// Jobs is the job queue.
	Jobs *jobs.Service
	// Events are what subscriptions receive.
	Events *events.Bus
	// Webhooks are projects' webhook policies and their deliveries.
	Webhooks *webhooks.Service
	// Retention is projects' tag retention.
	Retention *retention.Service
	// Scans are artifacts' vulnerability scans.
	Scans *scanner.Service
	// PullPolicy is projects' pull policies and the CVE allowlists.
	PullPolicy *pullpolicy.Service
	// OIDC is single sign-on: its settings and the login page's facts.
	OIDC *oidc.Service
	// Info describes the installation for systemInfo.
	Info Info
}

// Info is static information about the running installation.
type Info struct {
	Version       string
	StorageDriver string
	RegistryHost  string
}
