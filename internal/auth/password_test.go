package auth

import (
	"strings"
	"testing"
)

func TestPasswordHashVerifies(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Fatalf("not an argon2id PHC string: %s", h)
	}
	if !VerifyPassword(h, "correct horse") {
		t.Fatal("right password refused")
	}
	if VerifyPassword(h, "correct horsE") {
		t.Fatal("wrong password accepted")
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("hashes must be salted")
	}
}

func TestVerifyPasswordRejectsMalformedHashes(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", "$argon2id$v=19$m=1,t=1,p=1$!!$AA"} {
		if VerifyPassword(h, "x") {
			t.Fatalf("accepted malformed hash %q", h)
		}
	}
}

func TestRoleTableIsMonotonic(t *testing.T) {
	roles := []Role{RoleLimitedGuest, RoleGuest, RoleDeveloper, RoleMaintainer, RoleProjectAdmin}
	for _, a := range Actions() {
		allowed := false
		for _, r := range roles {
			if allowed && !RoleAllows(r, a) {
				t.Fatalf("%s may %s but a higher role may not", roles, a)
			}
			allowed = allowed || RoleAllows(r, a)
		}
		if !allowed {
			t.Fatalf("no role may %s", a)
		}
	}
	if RoleAllows(RoleDeveloper, ArtifactDelete) || !RoleAllows(RoleDeveloper, RepositoryPush) || RoleAllows(RoleGuest, RepositoryPush) {
		t.Fatal("table disagrees with Harbor's roles")
	}
}
