// Package robotperm holds the type of a robot account's stored permissions,
// apart from ent/schema so the generated client can import it.
package robotperm

// Permission grants one action in one project ("*" for every project).
type Permission struct {
	Project string `json:"project"`
	// Action is resource:verb as in internal/auth's table, e.g. repository:pull.
	Action string `json:"action"`
}
