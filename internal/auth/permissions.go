package auth

import "github.com/berth-registry/berth/ent/member"

// Role is a member's role in a project.
type Role = member.Role

// The five project roles, from most to least powerful.
const (
	RoleProjectAdmin = member.RolePROJECT_ADMIN
	RoleMaintainer   = member.RoleMAINTAINER
	RoleDeveloper    = member.RoleDEVELOPER
	RoleGuest        = member.RoleGUEST
	RoleLimitedGuest = member.RoleLIMITED_GUEST
)

// Action is something done to a resource of a project, written resource:verb.
type Action string

// The actions the permission table knows.
const (
	ProjectRead   Action = "project:read"
	ProjectUpdate Action = "project:update"
	ProjectDelete Action = "project:delete"

	MemberRead  Action = "member:read"
	MemberWrite Action = "member:write"

	RepositoryPull   Action = "repository:pull"
	RepositoryPush   Action = "repository:push"
	RepositoryDelete Action = "repository:delete"
	RepositoryUpdate Action = "repository:update"

	ArtifactDelete Action = "artifact:delete"
	TagCreate      Action = "tag:create"
	TagDelete      Action = "tag:delete"

	ArtifactLabelWrite Action = "artifact-label:write"
	LabelWrite         Action = "label:write"

	LogRead Action = "log:read"

	RobotRead  Action = "robot:read"
	RobotWrite Action = "robot:write"

	ScanCreate Action = "scan:create"

	// PolicyRead and PolicyWrite are a project's tag retention and
	// immutability rules.
	PolicyRead  Action = "policy:read"
	PolicyWrite Action = "policy:write"
	// WebhookRead and WebhookWrite are a project's webhook policies and
	// their delivery logs.
	WebhookRead  Action = "webhook:read"
	WebhookWrite Action = "webhook:write"
)

// rank orders roles; a higher rank may do everything a lower one may.
var rank = map[Role]int{
	RoleLimitedGuest: 1,
	RoleGuest:        2,
	RoleDeveloper:    3,
	RoleMaintainer:   4,
	RoleProjectAdmin: 5,
}

// minimumRole is the permission table: the least role that may do an action.
// Both the registry's token scopes and GraphQL authorization read it.
var minimumRole = map[Action]Role{
	ProjectRead:        RoleLimitedGuest,
	RepositoryPull:     RoleLimitedGuest,
	MemberRead:         RoleGuest,
	LogRead:            RoleGuest,
	RepositoryPush:     RoleDeveloper,
	TagCreate:          RoleDeveloper,
	ArtifactLabelWrite: RoleDeveloper,
	ScanCreate:         RoleDeveloper,
	RepositoryUpdate:   RoleMaintainer,
	RepositoryDelete:   RoleMaintainer,
	ArtifactDelete:     RoleMaintainer,
	TagDelete:          RoleMaintainer,
	LabelWrite:         RoleMaintainer,
	RobotRead:          RoleMaintainer,
	RobotWrite:         RoleProjectAdmin,
	ProjectUpdate:      RoleProjectAdmin,
	ProjectDelete:      RoleProjectAdmin,
	MemberWrite:        RoleProjectAdmin,
	PolicyRead:         RoleGuest,
	PolicyWrite:        RoleProjectAdmin,
	WebhookRead:        RoleMaintainer,
	WebhookWrite:       RoleProjectAdmin,
}

// publicActions are allowed to anyone, even anonymous, on a public project.
var publicActions = map[Action]bool{ProjectRead: true, RepositoryPull: true}

// readActions are all a read-only token may do.
var readActions = map[Action]bool{ProjectRead: true, RepositoryPull: true, MemberRead: true, LogRead: true, PolicyRead: true, WebhookRead: true}

// robotActions are the permissions a robot account may carry: registry
// and artifact work, never project administration.
var robotActions = map[Action]bool{
	ProjectRead: true, RepositoryPull: true, RepositoryPush: true, RepositoryDelete: true,
	ArtifactDelete: true, TagCreate: true, TagDelete: true, ArtifactLabelWrite: true, ScanCreate: true,
}

// RobotAction reports whether a robot account may be granted action.
func RobotAction(a Action) bool { return robotActions[a] }

// RoleAllows reports whether role may perform action.
func RoleAllows(role Role, action Action) bool {
	min, ok := minimumRole[action]
	return ok && rank[role] >= rank[min]
}

// Actions lists every action in the table, for callers that report a
// viewer's effective permissions.
func Actions() []Action {
	out := make([]Action, 0, len(minimumRole))
	for a := range minimumRole {
		out = append(out, a)
	}
	return out
}
