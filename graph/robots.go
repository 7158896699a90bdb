package graph

import (
	"github.com/berth-registry/berth/ent/schema/robotperm"
	"github.com/berth-registry/berth/graph/model"
	"github.com/berth-registry/berth/internal/auth"
)

// graphPermission is a robot permission as GraphQL spells it.
type graphPermission struct {
	resource model.PermissionResource
	action   model.PermissionAction
}

// actionOf maps the GraphQL resource/action pairs to the permission table's
// actions; permissionOf is its inverse.
var (
	actionOf = map[graphPermission]auth.Action{
		{model.PermissionResourceRepository, model.PermissionActionPull}:      auth.RepositoryPull,
		{model.PermissionResourceRepository, model.PermissionActionPush}:      auth.RepositoryPush,
		{model.PermissionResourceRepository, model.PermissionActionDelete}:    auth.RepositoryDelete,
		{model.PermissionResourceArtifact, model.PermissionActionRead}:        auth.ProjectRead,
		{model.PermissionResourceArtifact, model.PermissionActionDelete}:      auth.ArtifactDelete,
		{model.PermissionResourceTag, model.PermissionActionCreate}:           auth.TagCreate,
		{model.PermissionResourceTag, model.PermissionActionDelete}:           auth.TagDelete,
		{model.PermissionResourceArtifactLabel, model.PermissionActionCreate}: auth.ArtifactLabelWrite,
		{model.PermissionResourceScan, model.PermissionActionCreate}:          auth.ScanCreate,
	}
	permissionOf = func() map[auth.Action]graphPermission {
		out := map[auth.Action]graphPermission{}
		for gp, a := range actionOf {
			out[a] = gp
		}
		return out
	}()
)

// robotPermissions converts GraphQL permission inputs for the auth service.
func robotPermissions(in []*model.RobotPermissionInput) ([]robotperm.Permission, error) {
	out := make([]robotperm.Permission, 0, len(in))
	for _, p := range in {
		a, ok := actionOf[graphPermission{p.Resource, p.Action}]
		if !ok {
			return nil, badInput("%s %s is not a robot permission", p.Resource, p.Action)
		}
		out = append(out, robotperm.Permission{Project: deref(p.Project), Action: string(a)})
	}
	return out, nil
}
