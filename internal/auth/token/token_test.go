package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/berth-registry/berth/internal/viewer"
)

func newService(t *testing.T) *Service {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Key: key})
}

func TestTokensCarryRobotGrantsAndUserGroups(t *testing.T) {
	s := newService(t)
	robot := &viewer.Viewer{Kind: viewer.Robot, RobotID: 7, Username: "robot$team-a+ci",
		Grants: []viewer.Grant{{Project: "team-a", Action: "repository:pull"}}}
	raw, _, err := s.Issue(robot, []Access{{Type: "repository", Name: "team-a/app", Actions: []string{"pull"}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	v := c.Viewer()
	if v.Kind != viewer.Robot || v.RobotID != 7 || len(v.Grants) != 1 || v.Grants[0].Action != "repository:pull" {
		t.Fatalf("robot viewer from token: %+v", v)
	}
	if !c.Allows("repository", "team-a/app", "pull") || c.Allows("repository", "team-a/app", "push") {
		t.Fatalf("access claim: %+v", c.Access)
	}

	user := &viewer.Viewer{Kind: viewer.User, UserID: 3, Username: "alice", Groups: []string{"devs"}}
	raw, _, err = s.Issue(user, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err = s.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Viewer(); v.Kind != viewer.User || v.UserID != 3 || len(v.Groups) != 1 || v.Groups[0] != "devs" {
		t.Fatalf("user viewer from token: %+v", v)
	}
}

func TestTamperedTokenIsRefused(t *testing.T) {
	s := newService(t)
	raw, _, err := s.Issue(&viewer.Viewer{Kind: viewer.User, UserID: 1, Username: "alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tampered := raw[:len(raw)-4] + "AAAA"
	if _, err := s.Verify(tampered); err == nil {
		t.Fatal("a tampered token verified")
	}
	if _, err := newService(t).Verify(raw); err == nil {
		t.Fatal("a token signed by another key verified")
	}
}
