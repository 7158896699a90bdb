package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/ent/setting"
	"github.com/berth-registry/berth/ent/signingkey"
	"github.com/berth-registry/berth/ent/webhookpolicy"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/secrets"
	"github.com/berth-registry/berth/internal/server"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/internal/webhooks"
)

func TestPostgresWithoutSecretKeyRefusesToStart(t *testing.T) {
	for _, tc := range []struct {
		name, key, want string
	}{
		{"no key", "", "openssl rand -base64 32"},
		{"short key", "0123456789abcdef0123456789abcdef", "fewer than 32 random bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newConfig(t)
			// Nothing listens there: the key is checked before the
			// database is reached.
			cfg.DatabaseURL = "postgres://postgres@127.0.0.1:1/none?connect_timeout=1"
			cfg.SecretKey = tc.key
			_, err := server.New(context.Background(), cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
			var cerr *config.Error
			if !errors.As(err, &cerr) || !strings.Contains(err.Error(), "BERTH_SECRET_KEY") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v; want a configuration error naming BERTH_SECRET_KEY and saying %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(cfg.DataDir, server.SecretKeyFile)); err == nil {
				t.Error("a PostgreSQL berth generated a key file of its own")
			}
		})
	}
}

// hook is a webhook receiver that keeps what it got.
type hook struct {
	*httptest.Server
	mu  sync.Mutex
	got []*http.Request
	bod [][]byte
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got, h.bod = append(h.got, r), append(h.bod, body)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// last is the latest request the receiver got.
func (h *hook) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) == 0 {
		t.Fatal("the webhook receiver got nothing")
	}
	return h.got[len(h.got)-1], h.bod[len(h.bod)-1]
}

// testWebhook sends a test delivery of policy id and checks that it
// carried a signature made with secret and the Authorization header auth.
func testWebhook(t *testing.T, s *servertest.Server, h *hook, id, secret, auth string) {
	t.Helper()
	var out struct{ TestWebhook struct{ Succeeded bool } }
	s.MustDo(servertest.Admin, `mutation($id: ID!) { testWebhook(id: $id) { succeeded } }`, map[string]any{"id": id}, &out)
	if !out.TestWebhook.Succeeded {
		t.Fatal("the test delivery failed")
	}
	req, body := h.last(t)
	if got := req.Header.Get(webhooks.SignatureHeader); got != webhooks.Sign(secret, body) {
		t.Errorf("%s %q does not verify with the policy's secret", webhooks.SignatureHeader, got)
	}
	if got := req.Header.Get("Authorization"); got != auth {
		t.Errorf("Authorization %q, want %q", got, auth)
	}
}

// registryToken gets a registry token as admin and returns it with the
// kid of its header, after checking that /v2/ accepts it.
func registryToken(t *testing.T, s *servertest.Server) (tok, kid string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/service/token?service=berth", nil)
	req.SetBasicAuth("admin", servertest.AdminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("/service/token: %d %v", resp.StatusCode, err)
	}
	head, _, _ := strings.Cut(out.Token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(head)
	var h struct{ Kid string }
	json.Unmarshal(raw, &h)

	req, _ = http.NewRequest(http.MethodGet, s.URL+"/v2/", nil)
	req.Header.Set("Authorization", "Bearer "+out.Token)
	v2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	v2.Body.Close()
	if v2.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ with the token: %d", v2.StatusCode)
	}
	return out.Token, h.Kid
}

// stored is what the database holds of every secret, read past ent.
type stored struct {
	webhookSecret  string
	webhookTargets string
	privateKeys    []string
	oidcSettings   string
	cookieKey      string
}

func readStored(t *testing.T, db *database.DB) stored {
	t.Helper()
	var s stored
	q := func(query string, each func(scan func(...any) error)) {
		t.Helper()
		rows, err := db.SQL().Query(query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			each(rows.Scan)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	q(fmt.Sprintf("SELECT %s, %s FROM %s", webhookpolicy.FieldSecret, webhookpolicy.FieldTargets, webhookpolicy.Table),
		func(scan func(...any) error) { scan(&s.webhookSecret, &s.webhookTargets) })
	q(fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", signingkey.FieldPrivateKey, signingkey.Table, signingkey.FieldGeneration),
		func(scan func(...any) error) {
			var v string
			scan(&v)
			s.privateKeys = append(s.privateKeys, v)
		})
	q(fmt.Sprintf("SELECT %s, %s FROM %s", setting.FieldKey, setting.FieldValue, setting.Table),
		func(scan func(...any) error) {
			var k, v string
			scan(&k, &v)
			switch k {
			case "auth.oidc":
				s.oidcSettings = v
			case "auth.oidc.cookie_key":
				s.cookieKey = v
			}
		})
	return s
}

// checkSealed fails the test for any stored secret that is not sealed,
// or that shows one of the plaintexts.
func checkSealed(t *testing.T, s stored, plaintexts ...string) {
	t.Helper()
	var targets []rules.WebhookTarget
	if err := json.Unmarshal([]byte(s.webhookTargets), &targets); err != nil {
		t.Fatal(err)
	}
	var oidc struct {
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(s.oidcSettings), &oidc); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"webhook secret": s.webhookSecret, "webhook auth header": targets[0].AuthHeader,
		"OIDC client secret": oidc.ClientSecret}
	for i, k := range s.privateKeys {
		values[fmt.Sprintf("signing key %d", i+1)] = k
	}
	if s.cookieKey != "" {
		values["OIDC cookie key"] = s.cookieKey
	}
	for name, v := range values {
		if !strings.HasPrefix(v, "v1:") || strings.Contains(v, "PRIVATE KEY") {
			t.Errorf("the %s is stored in plaintext: %.50q", name, v)
		}
	}
	all := s.webhookSecret + s.webhookTargets + strings.Join(s.privateKeys, "") + s.oidcSettings + s.cookieKey
	for _, p := range plaintexts {
		if strings.Contains(all, p) {
			t.Errorf("the database holds %q in plaintext", p)
		}
	}
}

// TestStoredSecretsAreEncryptedAndStillWork: a webhook's secret and auth
// header, the token signing key and the OIDC client secret are stored
// sealed, and a delivery still signs and authenticates, a token still
// verifies, the OIDC settings still read.
func TestStoredSecretsAreEncryptedAndStillWork(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind, func(c *config.Config) { c.WebhookAllowPrivate = "true" })
			h := newHook(t)
			s.CreateProject(servertest.Admin, "team", false)
			var created struct {
				CreateWebhookPolicy struct {
					Secret string
					Policy struct{ ID string }
				}
			}
			s.MustDo(servertest.Admin, `mutation($url: String!) { createWebhookPolicy(project: "team", input: {name: "ci", eventTypes: [PUSH_ARTIFACT],
				targets: [{url: $url, authHeader: "Bearer hook-credential", format: JSON}]}) { secret policy { id } } }`,
				map[string]any{"url": h.URL + "/hook"}, &created)
			s.MustDo(servertest.Admin, `mutation { updateOIDCSettings(input: {issuer: "https://id.example.com", clientID: "berth", clientSecret: "oidc-client-credential"}) { clientSecretSet } }`, nil, nil)

			secret := created.CreateWebhookPolicy.Secret
			checkSealed(t, readStored(t, s.Berth.DB()), secret, "hook-credential", "oidc-client-credential")

			testWebhook(t, s, h, created.CreateWebhookPolicy.Policy.ID, secret, "Bearer hook-credential")
			registryToken(t, s)
			var oidc struct {
				OIDCSettings struct{ ClientSecretSet bool }
			}
			s.MustDo(servertest.Admin, `{ oidcSettings { clientSecretSet } }`, nil, &oidc)
			if !oidc.OIDCSettings.ClientSecretSet {
				t.Error("the stored OIDC client secret does not read back")
			}
		})
	}
}

// TestPlaintextSecretsFromBeforeAreEncryptedAtStart: a database written
// by a version before encryption (every secret in plaintext) is sealed
// when berth starts, in place: the webhook signs with the same secret and
// sends the same header, tokens carry the same key, the OIDC settings keep
// their updated_at. A restart seals nothing more.
func TestPlaintextSecretsFromBeforeAreEncryptedAtStart(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			dataDir, url := t.TempDir(), dbtest.URL(t, kind)
			h := newHook(t)
			policyID, oidcUpdated := seedPlaintext(t, url, dataDir, h.URL+"/hook")
			opts := func(c *config.Config) {
				c.DatabaseURL, c.DataDir, c.WebhookAllowPrivate = url, dataDir, "true"
			}

			first := servertest.Start(t, kind, opts)
			sealed := readStored(t, first.Berth.DB())
			checkSealed(t, sealed, "plaintext-webhook-secret", "old-hook-credential", "old-oidc-credential")
			if kind == database.SQLite {
				if _, err := os.Stat(filepath.Join(dataDir, server.SecretKeyFile)); err != nil {
					t.Errorf("no generated key file: %v", err)
				}
			}
			testWebhook(t, first, h, policyID, "plaintext-webhook-secret", "Bearer old-hook-credential")
			if _, kid := registryToken(t, first); kid != "OLD0:KEY0" {
				t.Errorf("tokens carry key %q, want the stored key OLD0:KEY0", kid)
			}
			row := first.Berth.DB().Setting.Query().Where(setting.Key("auth.oidc")).OnlyX(viewer.SystemContext(context.Background()))
			if !row.UpdatedAt.Equal(oidcUpdated) {
				t.Errorf("sealing changed the OIDC settings' updated_at from %v to %v", oidcUpdated, row.UpdatedAt)
			}
			// A second start on the same database and data dir, as after a
			// restart (the first keeps running: servertest checks its
			// state when the test ends).
			second := servertest.Start(t, kind, opts)
			if again := readStored(t, second.Berth.DB()); fmt.Sprint(again) != fmt.Sprint(sealed) {
				t.Errorf("a restart sealed again:\n%+v\n%+v", sealed, again)
			}
			testWebhook(t, second, h, policyID, "plaintext-webhook-secret", "Bearer old-hook-credential")
			var oidc struct {
				OIDCSettings struct{ ClientSecretSet bool }
			}
			second.MustDo(servertest.Admin, `{ oidcSettings { clientSecretSet } }`, nil, &oidc)
			if !oidc.OIDCSettings.ClientSecretSet {
				t.Error("the sealed OIDC client secret does not read back")
			}
		})
	}
}

// seedPlaintext writes, as a version before encryption did, a webhook
// policy, a token signing key and OIDC settings with their cookie key,
// every secret in plaintext. It returns the policy's GraphQL id and the
// OIDC settings' updated_at as stored.
func seedPlaintext(t *testing.T, url, dataDir, hookURL string) (string, time.Time) {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	db, err := database.Open(ctx, url, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	p := db.Project.Create().SetName("team").SaveX(ctx)
	pol := db.WebhookPolicy.Create().SetProjectID(p.ID).SetName("old").SetEventTypes([]string{"PUSH_ARTIFACT"}).
		SetTargets([]rules.WebhookTarget{{URL: hookURL, AuthHeader: "Bearer old-hook-credential", Format: rules.FormatJSON}}).
		SetSecret("plaintext-webhook-secret").SaveX(ctx)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if _, err := token.LoadOrCreateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	pemText, _ := os.ReadFile(keyFile)
	db.SigningKey.Create().SetGeneration(1).SetKid("OLD0:KEY0").SetPrivateKey(string(pemText)).SaveX(ctx)
	settings := `{"mode":"db","provider_name":"OpenID Connect","issuer":"https://id.example.com","client_id":"berth",` +
		`"client_secret":"old-oidc-credential","scopes":["openid"],"username_claim":"preferred_username","groups_claim":"","admin_group":""}`
	db.Setting.Create().SetKey("auth.oidc").SetValue(settings).SaveX(ctx)
	db.Setting.Create().SetKey("auth.oidc.cookie_key").SetValue(base64.RawStdEncoding.EncodeToString(make([]byte, 32))).SaveX(ctx)
	row := db.Setting.Query().Where(setting.Key("auth.oidc")).OnlyX(ctx)
	// The GraphQL id of a policy is its ent id (global ids are per type).
	id := fmt.Sprint(pol.ID)
	return id, row.UpdatedAt
}

// TestGeneratedKeyIsReusedAfterRestart: on SQLite without a configured
// key, berth generates one into the data dir (mode 0600) and reads it
// again after a restart, so a webhook secret sealed before still signs.
func TestGeneratedKeyIsReusedAfterRestart(t *testing.T) {
	dataDir := t.TempDir()
	opts := func(c *config.Config) {
		c.DataDir, c.DatabaseURL, c.SecretKey, c.WebhookAllowPrivate = dataDir, "", "", "true"
	}
	h := newHook(t)
	first := servertest.Start(t, database.SQLite, opts)
	first.CreateProject(servertest.Admin, "team", false)
	var created struct {
		CreateWebhookPolicy struct {
			Secret string
			Policy struct{ ID string }
		}
	}
	first.MustDo(servertest.Admin, `mutation($url: String!) { createWebhookPolicy(project: "team", input: {name: "ci", eventTypes: [PUSH_ARTIFACT],
		targets: [{url: $url, format: JSON}]}) { secret policy { id } } }`, map[string]any{"url": h.URL}, &created)
	keyPath := filepath.Join(dataDir, server.SecretKeyFile)
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatalf("no key file in the data dir: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	key, _ := os.ReadFile(keyPath)
	if _, err := secrets.New(string(key)); err != nil {
		t.Errorf("the generated key is refused: %v", err)
	}
	// A second start on the same data dir reads the key again, as after
	// a restart (the first keeps running: servertest checks its state
	// when the test ends).
	second := servertest.Start(t, database.SQLite, opts)
	testWebhook(t, second, h, created.CreateWebhookPolicy.Policy.ID, created.CreateWebhookPolicy.Secret, "")
	if again, _ := os.ReadFile(keyPath); string(again) != string(key) {
		t.Error("the restart generated a new key")
	}
}
