package graph_test

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestDeletingAProjectDeletesItsPolicies: a project's webhook policies,
// immutability rules, retention policy and schedule go with it, and a new
// project of the same name starts without them.
func TestDeletingAProjectDeletesItsPolicies(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		cranePush(t, s, "admin", servertest.AdminPassword, "team-a/app:v1", "immutable")
		s.MustDo(admin, `mutation { createWebhookPolicy(project: "team-a", input: {name: "ci", eventTypes: [PUSH_ARTIFACT],
			targets: [{url: "https://hooks.example.com/x", format: JSON}]}) { secret } }`, nil, nil)
		s.MustDo(admin, `mutation { createImmutabilityRule(project: "team-a", input: {repositories: {pattern: "**"}, tags: {pattern: "**"}}) { id } }`, nil, nil)
		s.MustDo(admin, `mutation { setRetentionPolicy(project: "team-a", input: {schedule: "@daily",
			rules: [{repositories: {pattern: "**"}, tags: {pattern: "**"}, template: ALWAYS}]}) { project } }`, nil, nil)
		s.MustDo(admin, `mutation { deleteProject(name: "team-a", force: true) }`, nil, nil)

		ctx := viewer.SystemContext(context.Background())
		db := s.Berth.DB()
		counts := map[string]int{
			"webhook policies":   db.WebhookPolicy.Query().CountX(ctx),
			"immutability rules": db.ImmutabilityRule.Query().CountX(ctx),
			"retention policies": db.RetentionPolicy.Query().CountX(ctx),
			"schedules":          db.Schedule.Query().CountX(ctx),
		}
		for what, n := range counts {
			if n != 0 {
				t.Errorf("%d %s left after the project was deleted", n, what)
			}
		}
	})
}
