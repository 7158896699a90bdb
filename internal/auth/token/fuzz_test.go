package token

import (
	"encoding/base64"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/berth-registry/berth/internal/viewer"
)

// FuzzParseScope parses arbitrary scope strings. An accepted scope names a
// resource, and written back in the Docker form it parses to the same
// value, so what a token grants is what was asked for.
// Seeds: testdata/fuzz/FuzzParseScope.
func FuzzParseScope(f *testing.F) {
	f.Fuzz(func(t *testing.T, scope string) {
		a, ok := ParseScope(scope)
		if !ok {
			if !reflect.DeepEqual(a, Access{}) {
				t.Fatalf("refused %q but returned %+v", scope, a)
			}
			return
		}
		if a.Name == "" || strings.Contains(a.Type, ":") || len(a.Actions) == 0 {
			t.Fatalf("%q parsed as %+v", scope, a)
		}
		for _, x := range a.Actions {
			if strings.ContainsAny(x, ":,") {
				t.Fatalf("%q: action %q", scope, x)
			}
		}
		if !strings.HasPrefix(scope, a.Type) || !strings.Contains(scope, ":"+a.Name+":") {
			t.Fatalf("%q parsed as %+v, which it does not say", scope, a)
		}
		back := a.Type + ":" + a.Name + ":" + strings.Join(a.Actions, ",")
		b, ok := ParseScope(back)
		if !ok || !reflect.DeepEqual(a, b) {
			t.Fatalf("%q parsed as %+v; written back as %q, parsed as %+v, %v", scope, a, back, b, ok)
		}
	})
}

// fuzzKeyPEM signs the tokens of the token fuzz targets, and nothing else.
const fuzzKeyPEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgaW/3D100idozlHeP
5hpAl1U1FVyXlRNiUCBav/5+pMmhRANCAARxglNlc1fBiYVMqpcTWb7z/XpIlDD5
ciOjQ7/1bTvYGz7KQbpcfVLVbAo+YW40l2uxbaW6C9rlVSPko+lMU5DD
-----END PRIVATE KEY-----
`

// Tokens fuzzKeyPEM signed, valid until 2099: the only strings FuzzVerify
// may see accepted. Expired, wrong-audience and misused tokens it signed
// are seeds in testdata/fuzz/FuzzVerify.
var (
	fuzzAccessTokens = []string{
		// alice, with pull and push on team-a/app
		"eyJhbGciOiJFUzI1NiIsImtpZCI6IkpSSks6TERYQTpaRURaOjVXQk06RjNRNDpZN0M0OlMyUVE6QlVMTTpWVEFBOlROUE46QjRTRzpCN1VaIiwidHlwIjoiSldUIn0.eyJpc3MiOiJiZXJ0aCIsInN1YiI6ImFsaWNlIiwiYXVkIjpbImJlcnRoIl0sImV4cCI6NDA3MDkwODgwMCwibmJmIjoxNTc3ODM2ODAwLCJpYXQiOjE1Nzc4MzY4MDAsImp0aSI6ImZ1enoiLCJhY2Nlc3MiOlt7InR5cGUiOiJyZXBvc2l0b3J5IiwibmFtZSI6InRlYW0tYS9hcHAiLCJhY3Rpb25zIjpbInB1bGwiLCJwdXNoIl19XSwiYmVydGgiOnsidWlkIjozLCJncnAiOlsiZGV2cyJdfX0.PUqTVZz3ejSen5A28II2CEk9HT6IpWsixfyDoN5m30PirFntf2w7x_oOmecEXFG7aTnrfz1Vb_W6hUWI1vmB6g",
		// robot$team-a+ci
		"eyJhbGciOiJFUzI1NiIsImtpZCI6IkpSSks6TERYQTpaRURaOjVXQk06RjNRNDpZN0M0OlMyUVE6QlVMTTpWVEFBOlROUE46QjRTRzpCN1VaIiwidHlwIjoiSldUIn0.eyJpc3MiOiJiZXJ0aCIsInN1YiI6InJvYm90JHRlYW0tYStjaSIsImF1ZCI6WyJiZXJ0aCJdLCJleHAiOjQwNzA5MDg4MDAsIm5iZiI6MTU3NzgzNjgwMCwiaWF0IjoxNTc3ODM2ODAwLCJqdGkiOiJmdXp6IiwiYWNjZXNzIjpbeyJ0eXBlIjoicmVwb3NpdG9yeSIsIm5hbWUiOiJ0ZWFtLWEvYXBwIiwiYWN0aW9ucyI6WyJwdWxsIiwicHVzaCJdfV0sImJlcnRoIjp7InJpZCI6NywiZ3JhbnRzIjpbeyJwIjoidGVhbS1hIiwiYSI6InJlcG9zaXRvcnk6cHVsbCJ9XX19.ygFnOGcrnhTqiMshwooxYS2Bdqbgiy5O5hdDQWzGFAmlWMpRgbH79Ubw3UGgl8fuLdT_16m0gKh04vhZPDeBHA",
		// anonymous, with the catalog
		"eyJhbGciOiJFUzI1NiIsImtpZCI6IkpSSks6TERYQTpaRURaOjVXQk06RjNRNDpZN0M0OlMyUVE6QlVMTTpWVEFBOlROUE46QjRTRzpCN1VaIiwidHlwIjoiSldUIn0.eyJpc3MiOiJiZXJ0aCIsImF1ZCI6WyJiZXJ0aCJdLCJleHAiOjQwNzA5MDg4MDAsIm5iZiI6MTU3NzgzNjgwMCwiaWF0IjoxNTc3ODM2ODAwLCJqdGkiOiJmdXp6IiwiYWNjZXNzIjpbeyJ0eXBlIjoicmVnaXN0cnkiLCJuYW1lIjoiY2F0YWxvZyIsImFjdGlvbnMiOlsiKiJdfV19.tc640336w-zYZmrdyUELJOU9ljMJbfRq4ahofz8_MFa19YC4paTg17koH-SLWx4VefT9Q1sTfFgiwe2OliWW9Q",
	}
	fuzzRefreshTokens = []string{
		// alice's refresh token
		"eyJhbGciOiJFUzI1NiIsImtpZCI6IkpSSks6TERYQTpaRURaOjVXQk06RjNRNDpZN0M0OlMyUVE6QlVMTTpWVEFBOlROUE46QjRTRzpCN1VaIiwidHlwIjoiSldUIn0.eyJpc3MiOiJiZXJ0aCIsInN1YiI6ImFsaWNlIiwiYXVkIjpbImJlcnRoLXJlZnJlc2giXSwiZXhwIjo0MDcwOTA4ODAwLCJuYmYiOjE1Nzc4MzY4MDAsImlhdCI6MTU3NzgzNjgwMCwianRpIjoiZnV6eiIsImFjY2VzcyI6W10sImJlcnRoIjp7InVpZCI6M30sInVzZSI6InJlZnJlc2gifQ.NOgx35zaDkewsImtS1-jDSL9l_TGlwD6iQBgiAWIEiV02L6QI808CAE9g_aA84F-6zUct91oFNWikGtzUILtvw",
	}
)

func fuzzService(tb testing.TB) *Service {
	tb.Helper()
	key, err := ParseKey([]byte(fuzzKeyPEM))
	if err != nil {
		tb.Fatal(err)
	}
	return New(Options{Key: key, TTL: 24 * time.Hour, RefreshTTL: 24 * time.Hour})
}

// FuzzVerify hands arbitrary strings, and the fuzzer's mutations of tokens
// fuzzKeyPEM signed, to the verifier of access tokens and to the parser of
// refresh tokens: neither may panic, and neither may accept anything but a
// token it signed, byte for byte, for its own audience.
// Seeds: the tokens above, and testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	s := fuzzService(f)
	for _, raw := range fuzzAccessTokens {
		if _, err := s.Verify(raw); err != nil {
			f.Fatalf("a token the fuzz key signed is refused (%v): regenerate the seeds", err)
		}
		f.Add(raw)
	}
	for _, raw := range fuzzRefreshTokens {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if c, err := s.Verify(raw); err == nil {
			if !slices.Contains(fuzzAccessTokens, raw) {
				t.Fatalf("Verify accepted a token it did not sign: %q", raw)
			}
			checkClaims(t, c, "berth")
		} else if c != nil {
			t.Fatalf("Verify refused %q but returned claims", raw)
		}
		if c, err := s.parse(raw, "berth-refresh"); err == nil {
			if !slices.Contains(fuzzRefreshTokens, raw) {
				t.Fatalf("accepted a refresh token it did not sign: %q", raw)
			}
			checkClaims(t, c, "berth-refresh")
		}
	})
}

// FuzzVerifyMutatedToken issues fresh tokens with the fuzz key and mutates
// them as an attacker holding one would: bytes replaced, inserted or
// removed, segments swapped between tokens or replaced by chosen base64.
// Any mutation that changes the string must be refused.
// Seeds: testdata/fuzz/FuzzVerifyMutatedToken.
func FuzzVerifyMutatedToken(f *testing.F) {
	s := fuzzService(f)
	var tokens []string
	for _, v := range []*viewer.Viewer{
		{Kind: viewer.User, UserID: 3, Username: "alice", Groups: []string{"devs"}},
		{Kind: viewer.User, UserID: 1, Username: "admin", Admin: true, ReadOnly: true},
		{Kind: viewer.Robot, RobotID: 7, Username: "robot$team-a+ci", Grants: []viewer.Grant{{Project: "team-a", Action: "repository:pull"}}},
		{Kind: viewer.Anonymous},
	} {
		raw, _, err := s.Issue(v, []Access{{Type: "repository", Name: "team-a/app", Actions: []string{"pull"}}})
		if err != nil {
			f.Fatal(err)
		}
		tokens = append(tokens, raw)
	}
	// A refresh token as issueRefresh signs it (which needs the database).
	now := time.Now()
	refresh, err := s.sign(Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "berth", Audience: jwt.ClaimStrings{"berth-refresh"}, Subject: "alice",
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: "fuzz",
		},
		Berth: &Identity{UserID: 3}, Use: "refresh",
	})
	if err != nil {
		f.Fatal(err)
	}
	tokens = append(tokens, refresh)

	f.Fuzz(func(t *testing.T, which uint8, op uint8, at uint16, data []byte) {
		orig := tokens[int(which)%len(tokens)]
		other := tokens[(int(which)+1)%len(tokens)]
		raw := mutateToken(orig, other, op, int(at), data)
		if raw == orig {
			return
		}
		if _, err := s.Verify(raw); err == nil {
			t.Fatalf("Verify accepted a modified token:\n  signed   %q\n  modified %q", orig, raw)
		}
		if _, err := s.parse(raw, "berth-refresh"); err == nil {
			t.Fatalf("accepted a modified refresh token:\n  signed   %q\n  modified %q", orig, raw)
		}
	})
}

// mutateToken applies one of a handful of edits to tok at position at.
func mutateToken(tok, other string, op uint8, at int, data []byte) string {
	segs, others := strings.Split(tok, "."), strings.Split(other, ".")
	seg := at % len(segs)
	at %= len(tok) + 1
	switch op % 8 {
	case 0: // overwrite bytes
		b := []byte(tok)
		copy(b[min(at, len(b)):], data)
		return string(b)
	case 1: // insert bytes
		return tok[:at] + string(data) + tok[at:]
	case 2: // remove bytes
		return tok[:at] + tok[min(len(tok), at+len(data)+1):]
	case 3: // truncate, then append
		return tok[:at] + string(data)
	case 4: // replace a segment by chosen bytes, base64url-encoded
		segs[seg] = base64.RawURLEncoding.EncodeToString(data)
	case 5: // replace a segment by chosen bytes as they are
		segs[seg] = string(data)
	case 6: // take a segment from another token
		if seg < len(others) {
			segs[seg] = others[seg]
		}
	case 7: // re-encode a segment with padding or the standard alphabet
		if dec, err := base64.RawURLEncoding.DecodeString(segs[seg]); err == nil {
			if len(data) > 0 && data[0]%2 == 0 {
				segs[seg] = base64.URLEncoding.EncodeToString(dec)
			} else {
				segs[seg] = base64.StdEncoding.EncodeToString(dec)
			}
		}
	}
	return strings.Join(segs, ".")
}

// checkClaims asserts what the registry relies on in accepted claims.
func checkClaims(t *testing.T, c *Claims, audience string) {
	t.Helper()
	if c == nil || c.Issuer != "berth" || !slices.Contains(c.Audience, audience) || c.ExpiresAt == nil {
		t.Fatalf("accepted claims %+v for audience %q", c, audience)
	}
	if (audience == "berth-refresh") != (c.Use == "refresh") {
		t.Fatalf("token of use %q accepted for audience %q", c.Use, audience)
	}
}
