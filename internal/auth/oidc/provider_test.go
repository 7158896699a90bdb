package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// The client berth is registered as at the test provider.
const (
	clientID     = "berth"
	clientSecret = "berth-client-secret"
	userPassword = "provider-password"
)

// person is an account at the test provider. Their login name is also
// their preferred_username claim, unless noUsername leaves the claim out.
type person struct {
	sub, login string
	noUsername bool
	groups     []string
}

// provider is a real OpenID provider (zitadel's op package and its example
// storage and login form) on 127.0.0.1, with knobs to misbehave.
type provider struct {
	URL     string
	storage *providerStorage

	mu sync.Mutex
	// nonceOverride replaces the nonce of the next authorization request.
	nonceOverride string
	// tamper rewrites the ID token of the next token response.
	tamper func(t *testing.T, raw string) string
	// lastAuth is the query of the last authorization request.
	lastAuth url.Values
}

// serveProvider serves the provider on ln (on 127.0.0.1); redirectURI is
// berth's callback.
func serveProvider(t *testing.T, ln net.Listener, redirectURI string, people ...person) *provider {
	t.Helper()
	issuer := "http://" + ln.Addr().String()
	users := map[string]*storage.User{}
	groups := map[string][]string{}
	noName := map[string]bool{}
	for _, p := range people {
		users[p.sub] = &storage.User{
			ID: p.sub, Username: p.login, Password: userPassword, FirstName: p.login, LastName: "Example",
			Email: p.login + "@example.com", EmailVerified: true, PreferredLanguage: language.English,
		}
		groups[p.sub] = p.groups
		noName[p.sub] = p.noUsername
	}
	client := storage.WebClient(clientID, clientSecret, redirectURI)
	st := &providerStorage{
		Storage: storage.NewStorageWithClients(userStore{users}, map[string]*storage.Client{clientID: client}),
		groups:  groups, noName: noName,
	}
	p := &provider{URL: issuer, storage: st}
	// The example server logs every request through slog's default logger.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	router := exampleop.SetupServer(issuer, st, nil, false)
	srv := httptest.NewUnstartedServer(p.intercept(t, router))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// setGroups changes a person's groups for their next sign-in.
func (p *provider) setGroups(sub string, groups ...string) {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	p.storage.groups[sub] = groups
}

// lastAuthRequest returns the query of the last authorization request.
func (p *provider) lastAuthRequest() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastAuth
}

func (p *provider) misbehave(nonce string, tamper func(t *testing.T, raw string) string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nonceOverride, p.tamper = nonce, tamper
}

// intercept lets a test swap the nonce of an authorization request or
// rewrite the ID token the token endpoint answers with.
func (p *provider) intercept(t *testing.T, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		nonce, tamper := p.nonceOverride, p.tamper
		if r.URL.Path == "/auth" {
			p.lastAuth = r.URL.Query()
		}
		p.mu.Unlock()
		switch {
		case r.URL.Path == "/auth" && nonce != "":
			q := r.URL.Query()
			q.Set("nonce", nonce)
			r.URL.RawQuery = q.Encode()
			p.misbehave("", tamper)
		case r.URL.Path == "/oauth/token" && tamper != nil:
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["id_token"] == nil {
				t.Errorf("token response without id_token: %s", rec.Body)
			} else {
				body["id_token"] = tamper(t, body["id_token"].(string))
			}
			p.misbehave(nonce, nil)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			json.NewEncoder(w).Encode(body)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// editClaims returns a tamper function that changes the ID token's claims
// and, if resign, signs it again with the provider's own key, so that only
// the changed claims are wrong.
func (p *provider) editClaims(resign bool, edit func(claims map[string]any)) func(t *testing.T, raw string) string {
	return func(t *testing.T, raw string) string {
		parts := strings.Split(raw, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatalf("decoding the ID token: %v", err)
		}
		claims := map[string]any{}
		json.Unmarshal(payload, &claims)
		edit(claims)
		payload, _ = json.Marshal(claims)
		if !resign {
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		}
		key, err := p.storage.SigningKey(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: key.SignatureAlgorithm(),
			Key: jose.JSONWebKey{Key: key.Key(), KeyID: key.ID()}}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		sig, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		out, err := sig.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// providerStorage adds a groups claim (and can drop preferred_username) to
// what the example storage asserts, in the ID token and at userinfo.
type providerStorage struct {
	*storage.Storage
	mu     sync.Mutex
	groups map[string][]string
	noName map[string]bool
}

func (s *providerStorage) addClaims(info *zoidc.UserInfo, sub string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gs := s.groups[sub]; len(gs) > 0 {
		info.AppendClaims("groups", gs)
	}
	if s.noName[sub] {
		info.PreferredUsername = ""
	}
}

func (s *providerStorage) SetUserinfoFromRequest(ctx context.Context, info *zoidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	s.addClaims(info, req.GetSubject())
	return nil
}

func (s *providerStorage) SetUserinfoFromToken(ctx context.Context, info *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.addClaims(info, info.Subject)
	return nil
}

// userStore holds the provider's accounts.
type userStore struct{ users map[string]*storage.User }

func (u userStore) GetUserByID(id string) *storage.User { return u.users[id] }

func (u userStore) GetUserByUsername(login string) *storage.User {
	for _, x := range u.users {
		if x.Username == login {
			return x
		}
	}
	return nil
}

func (u userStore) ExampleClientID() string { return "service" }
