// Package viewer carries the identity of whoever makes a request through its
// context. It imports nothing of the data layer so that both the ent privacy
// rules and the services above them can depend on it.
package viewer

import "context"

// Kind says what sort of identity a Viewer is.
type Kind string

// The kinds of identities berth knows.
const (
	Anonymous Kind = "anonymous"
	User      Kind = "user"
	Robot     Kind = "robot"
	System    Kind = "system"
)

// Viewer is the caller of a request.
type Viewer struct {
	Kind     Kind
	UserID   int    // set for Kind User
	Username string // login name; "anonymous" for anonymous callers
	Admin    bool   // system administrator
	// ReadOnly is set when the caller authenticated with a read-only access token.
	ReadOnly bool
	// TokenID is the access token the caller authenticated with, if any.
	TokenID int
	// SessionID is the portal session the caller authenticated with, if any.
	SessionID int
	// Groups are the user's groups from the identity provider; projects
	// may grant roles to groups.
	Groups []string
	// RobotID and Grants are set for Kind Robot: the robot's explicit
	// permissions, each an action in a project ("*" for every project).
	RobotID int
	Grants  []Grant
	// Scanner is set for the pull-only registry tokens berth mints for a
	// registered scanner adapter (token.Service.IssueScanner): the
	// adapter's name. Such a caller is a Robot whose one grant is pulling
	// from the project of the image it scans; policies that must let
	// berth's own scans through (the pull policy) recognise it by this.
	Scanner string
}

// Grant is one permission of a robot account.
type Grant struct {
	Project string `json:"p"` // a project name, or "*" for every project
	Action  string `json:"a"` // resource:verb, as in internal/auth's table
}

// RobotProjects returns the projects in which a robot's grants include
// action, and whether such a grant covers every project ("*").
func (v *Viewer) RobotProjects(action string) (names []string, all bool) {
	seen := map[string]bool{}
	for _, g := range v.Grants {
		if g.Action != action {
			continue
		}
		if g.Project == "*" {
			all = true
		} else if !seen[g.Project] {
			seen[g.Project] = true
			names = append(names, g.Project)
		}
	}
	return names, all
}

type ctxKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer of ctx; a request without one is anonymous.
func FromContext(ctx context.Context) *Viewer {
	if v, ok := ctx.Value(ctxKey{}).(*Viewer); ok && v != nil {
		return v
	}
	return &anonymous
}

var anonymous = Viewer{Kind: Anonymous, Username: "anonymous"}

// IsAnonymous reports whether the viewer has not authenticated.
func (v *Viewer) IsAnonymous() bool { return v.Kind == Anonymous }

// IsAdmin reports whether the viewer may do everything: a system admin or
// berth itself acting on its own behalf.
func (v *Viewer) IsAdmin() bool { return v.Admin || v.Kind == System }

// Name is how the viewer appears in logs and the audit log.
func (v *Viewer) Name() string {
	if v.Kind == Anonymous {
		return "anonymous"
	}
	return v.Username
}

// SystemContext returns ctx acting as berth itself, for internal work
// (authentication look-ups, background jobs) that no caller triggers directly.
func SystemContext(ctx context.Context) context.Context {
	return NewContext(ctx, &Viewer{Kind: System, Username: "system", Admin: true})
}
