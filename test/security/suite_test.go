package security_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database/dbtest"
)

// TestAdversarialSuite runs every probe against one berth per database,
// then checks that no secret reached its log or audit table and that its
// peak RSS stayed under 300 MB. The probes run in order on the same
// server, as an attacker's session would; each is a subtest named for the
// behaviour it requires.
func TestAdversarialSuite(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			start := time.Now()
			srv := startServer(t, kind, serverOptions{metrics: true})
			started := time.Now()
			f := newFixture(t, srv)
			t.Logf("berth on %s started in %s, fixture made in %s", kind,
				started.Sub(start).Round(time.Millisecond), time.Since(started).Round(time.Millisecond))

			t.Run("HardeningHeadersPresentAndMetricsOffPublicPort", func(t *testing.T) { testSecurityHeaders(t, f) })
			t.Run("PrivateAndMissingProjectsAnswerAlike", func(t *testing.T) { testPrivateAndMissingProjectsAnswerAlike(t, f) })
			t.Run("ConcurrentPatchCannotPoisonBlob", func(t *testing.T) { testConcurrentPatchCannotPoisonBlob(t, f) })
			t.Run("ReadOnlyTokenChangesNothing", func(t *testing.T) { testReadOnlyTokenChangesNothing(t, f) })
			t.Run("RobotsAndMembersStayWithinGrants", func(t *testing.T) { testRobotsAndMembersStayWithinGrants(t, f) })
			t.Run("RobotCannotBeLockedOutByName", func(t *testing.T) { testRobotCannotBeLockedOutByName(t, f) })
			t.Run("RefreshTokenEndsWithWhatIssuedIt", func(t *testing.T) { testRefreshTokenEndsWithWhatIssuedIt(t, f) })
			t.Run("CookieAloneCannotSignInSignOutOrActAsUser", func(t *testing.T) { testCSRFDefences(t, f) })
			t.Run("OIDCConnectionTestRefusesLoopback", func(t *testing.T) { testOIDCTestRefusesLoopback(t, f) })
			t.Run("OIDCConnectionTestNeverReturnsBody", func(t *testing.T) { testOIDCTestNeverReturnsBody(t, kind) })
			t.Run("UsernameFloodIsBounded", func(t *testing.T) { testUsernameFloodIsBounded(t, f) })
			t.Run("AliasBombIsBounded", func(t *testing.T) { testAliasBombIsBounded(t, f) })
			t.Run("BigGraphQLBodyIs413", func(t *testing.T) { testBigGraphQLBodyIs413(t, f) })

			// Stopping the server flushes the audit log and fixes VmHWM.
			srv.stop(t)
			t.Run("NoSecretInServerLogOrAuditTable", func(t *testing.T) { testNoSecretLeaked(t, srv) })

			hwm := srv.highWaterMark(t)
			srv.mu.Lock()
			sampled := srv.peakRSS
			srv.mu.Unlock()
			t.Logf("berth on %s: peak RSS (VmHWM) %s, largest VmRSS sampled every 100 ms %s; suite took %s",
				kind, mb(hwm), mb(sampled), time.Since(start).Round(time.Second))
			if hwm == 0 || hwm >= peakRSSLimit {
				t.Errorf("berth on %s peaked at %s of RSS; want under %s", kind, mb(hwm), mb(peakRSSLimit))
			}
		})
	}
}

// testNoSecretLeaked: none of the secrets the suite sent or received
// (passwords, access tokens, robot secrets, refresh and registry tokens,
// session cookies, CSRF tokens, Authorization headers) is in the server's
// log or its audit table.
func testNoSecretLeaked(t *testing.T, s *server) {
	logData, err := os.ReadFile(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	audit, rows := s.auditText(t)
	secrets := s.secrets.all()
	t.Logf("checking %d secrets against %d bytes of log and %d audit entries", len(secrets), len(logData), rows)
	if len(logData) == 0 || rows == 0 {
		t.Fatalf("nothing to check: %d bytes of log, %d audit entries", len(logData), rows)
	}
	log := string(logData)
	for _, secret := range secrets {
		if strings.Contains(log, secret) {
			t.Errorf("the server log holds a secret (%s): %s", redact(secret), lineWith(log, secret))
		}
		if strings.Contains(audit, secret) {
			t.Errorf("the audit table holds a secret (%s): %s", redact(secret), lineWith(audit, secret))
		}
	}
}

// redact names a secret without showing it.
func redact(s string) string {
	return s[:min(6, len(s))] + "… (" + strconv.Itoa(len(s)) + " chars)"
}

// lineWith returns the line of text holding secret, with the secret
// redacted and the line cut short.
func lineWith(text, secret string) string {
	i := strings.Index(text, secret)
	start := strings.LastIndexByte(text[:i], '\n') + 1
	end := strings.IndexByte(text[i:], '\n')
	if end < 0 {
		end = len(text)
	} else {
		end += i
	}
	line := strings.ReplaceAll(text[start:end], secret, "<"+redact(secret)+">")
	if len(line) > 400 {
		line = line[:400] + "…"
	}
	return line
}
