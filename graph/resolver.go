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
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/projects"
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
