package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/ent/webhookdelivery"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/egress"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/viewer"
)

// Limits of a policy.
const (
	MaxTargets       = 10
	MaxURLLength     = 2048
	MaxAuthHeader    = 4096
	maxNameLength    = 128
	maxDescription   = 1024
	secretBytes      = 32
	lookupTimeout    = 5 * time.Second
	privateURLAdvice = "berth refuses webhook targets on loopback, link-local and private addresses unless it runs with --webhook-allow-private"
)

// PolicyInput is a new webhook policy.
type PolicyInput struct {
	Name        string
	Description string
	EventTypes  []events.Type
	Targets     []rules.WebhookTarget
	Enabled     bool
}

// PolicyUpdate changes a policy; nil fields stay as they are.
type PolicyUpdate struct {
	Name        *string
	Description *string
	EventTypes  []events.Type
	// Targets replaces every target. A target without AuthHeader keeps
	// the header of the existing target with the same URL.
	Targets []rules.WebhookTarget
	Enabled *bool
}

// Targets copies targets held by pointer (GraphQL's input) into the
// form PolicyInput and PolicyUpdate take; nil stays nil.
func Targets(in []*rules.WebhookTarget) []rules.WebhookTarget {
	if in == nil {
		return nil
	}
	out := make([]rules.WebhookTarget, 0, len(in))
	for _, t := range in {
		if t != nil {
			out = append(out, *t)
		}
	}
	return out
}

// Create adds a webhook policy to a project and returns it with its
// signing secret, which is never shown again.
func (s *Service) Create(ctx context.Context, projectName string, in PolicyInput) (*ent.WebhookPolicy, string, error) {
	p, err := s.project(ctx, projectName, auth.WebhookWrite)
	if err != nil {
		return nil, "", err
	}
	if err := validateName(in.Name); err != nil {
		return nil, "", err
	}
	if err := validateDescription(in.Description); err != nil {
		return nil, "", err
	}
	types, err := validateEventTypes(in.EventTypes)
	if err != nil {
		return nil, "", err
	}
	targets, err := s.validateTargets(ctx, in.Targets)
	if err != nil {
		return nil, "", err
	}
	secret, err := newSecret()
	if err != nil {
		return nil, "", err
	}
	pol, err := s.opts.Client.WebhookPolicy.Create().
		SetProjectID(p.ID).
		SetName(in.Name).
		SetDescription(in.Description).
		SetEventTypes(types).
		SetTargets(s.sealHeaders(p.ID, targets)).
		SetSecret(s.opts.Secrets.Seal(secret, secretAD(p.ID))).
		SetEnabled(in.Enabled).
		SetCreatedBy(viewer.FromContext(ctx).Name()).
		Save(auth.Allow(ctx))
	if ent.IsConstraintError(err) {
		return nil, "", errdefs.Conflictf("project %q already has a webhook policy named %q", p.Name, in.Name)
	}
	if err != nil {
		return nil, "", err
	}
	s.opts.Logger.InfoContext(ctx, "webhook policy created", "project", p.Name, "policy", pol.ID, "user", viewer.FromContext(ctx).Name())
	return pol, secret, nil
}

// Update changes a webhook policy.
func (s *Service) Update(ctx context.Context, id int, in PolicyUpdate) (*ent.WebhookPolicy, error) {
	pol, p, err := s.policy(ctx, id, auth.WebhookWrite)
	if err != nil {
		return nil, err
	}
	upd := s.opts.Client.WebhookPolicy.UpdateOneID(pol.ID)
	if in.Name != nil {
		if err := validateName(*in.Name); err != nil {
			return nil, err
		}
		upd.SetName(*in.Name)
	}
	if in.Description != nil {
		if err := validateDescription(*in.Description); err != nil {
			return nil, err
		}
		upd.SetDescription(*in.Description)
	}
	if in.EventTypes != nil {
		types, err := validateEventTypes(in.EventTypes)
		if err != nil {
			return nil, err
		}
		upd.SetEventTypes(types)
	}
	if in.Targets != nil {
		old := map[string]string{}
		for _, t := range pol.Targets {
			old[t.URL] = t.AuthHeader
		}
		kept := make([]rules.WebhookTarget, len(in.Targets))
		for i, t := range in.Targets {
			if t.AuthHeader == "" {
				url := strings.TrimSpace(t.URL)
				h, err := s.authHeader(pol.ProjectID, rules.WebhookTarget{URL: url, AuthHeader: old[url]})
				if err != nil {
					return nil, err
				}
				t.AuthHeader = h
			}
			kept[i] = t
		}
		targets, err := s.validateTargets(ctx, kept)
		if err != nil {
			return nil, err
		}
		upd.SetTargets(s.sealHeaders(pol.ProjectID, targets))
	}
	if in.Enabled != nil {
		upd.SetEnabled(*in.Enabled)
	}
	pol, err = upd.Save(auth.Allow(ctx))
	if ent.IsConstraintError(err) {
		return nil, errdefs.Conflictf("project %q already has a webhook policy named %q", p.Name, deref(in.Name))
	}
	return pol, err
}

// Delete removes a webhook policy and its delivery log. Deliveries still
// queued find the policy gone and complete without sending.
func (s *Service) Delete(ctx context.Context, id int) error {
	pol, p, err := s.policy(ctx, id, auth.WebhookWrite)
	if err != nil {
		return err
	}
	tx, err := s.opts.Client.Tx(ctx)
	if err != nil {
		return err
	}
	allow := auth.Allow(ctx)
	if _, err := tx.WebhookDelivery.Delete().Where(webhookdelivery.PolicyID(pol.ID)).Exec(allow); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.WebhookPolicy.DeleteOneID(pol.ID).Exec(allow); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.opts.Logger.InfoContext(ctx, "webhook policy deleted", "project", p.Name, "policy", pol.ID, "user", viewer.FromContext(ctx).Name())
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p != nil {
		return *p
	}
	return zero
}

func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a webhook secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func validateName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errdefs.Invalidf("a webhook policy needs a name")
	}
	if utf8.RuneCountInString(name) > maxNameLength {
		return errdefs.Invalidf("a webhook policy's name has at most %d characters", maxNameLength)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return errdefs.Invalidf("a webhook policy's name may not contain control characters")
	}
	return nil
}

func validateDescription(d string) error {
	if utf8.RuneCountInString(d) > maxDescription {
		return errdefs.Invalidf("a webhook policy's description has at most %d characters", maxDescription)
	}
	return nil
}

// validateEventTypes checks and de-duplicates event types, keeping their order.
func validateEventTypes(ts []events.Type) ([]string, error) {
	if len(ts) == 0 {
		return nil, errdefs.Invalidf("a webhook policy needs at least one event type")
	}
	seen := map[events.Type]bool{}
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		if !t.Valid() {
			return nil, errdefs.Invalidf("%q is not an event type", t)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, string(t))
		}
	}
	return out, nil
}

// validateTargets checks a policy's targets: how many, their URLs, their
// headers, their formats, and unless private addresses are allowed, that
// no URL leads inside.
func (s *Service) validateTargets(ctx context.Context, ts []rules.WebhookTarget) ([]rules.WebhookTarget, error) {
	if len(ts) == 0 || len(ts) > MaxTargets {
		return nil, errdefs.Invalidf("a webhook policy needs 1 to %d targets", MaxTargets)
	}
	// One deadline for every look-up, so a slow DNS server holds a save
	// up seconds, not ten times that.
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	out := make([]rules.WebhookTarget, len(ts))
	seen := map[string]bool{}
	for i, t := range ts {
		t.URL = strings.TrimSpace(t.URL)
		u, err := parseURL(t.URL)
		if err != nil {
			return nil, err
		}
		if seen[t.URL] {
			return nil, errdefs.Invalidf("webhook URL %q is listed twice", t.URL)
		}
		seen[t.URL] = true
		if len(t.AuthHeader) > MaxAuthHeader {
			return nil, errdefs.Invalidf("an auth header has at most %d bytes", MaxAuthHeader)
		}
		if strings.ContainsAny(t.AuthHeader, "\r\n\x00") {
			return nil, errdefs.Invalidf("an auth header is one line of text")
		}
		switch t.Format {
		case "":
			t.Format = rules.FormatJSON
		case rules.FormatJSON, rules.FormatCloudEvents, rules.FormatSlack:
		default:
			return nil, errdefs.Invalidf("%q is not a webhook format", t.Format)
		}
		if !s.opts.AllowPrivate {
			if err := s.refusePrivate(ctx, u); err != nil {
				return nil, err
			}
		}
		out[i] = t
	}
	return out, nil
}

// parseURL accepts absolute http and https URLs with a host and without
// credentials (those belong in the auth header, which is never shown).
func parseURL(raw string) (*url.URL, error) {
	if len(raw) > MaxURLLength {
		return nil, errdefs.Invalidf("a webhook URL has at most %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return nil, errdefs.Invalidf("webhook URL %q is not an absolute http or https URL", raw)
	}
	if u.User != nil {
		return nil, errdefs.Invalidf("webhook URL %q carries credentials; put them in the auth header instead", u.Redacted())
	}
	return u, nil
}

// refusePrivate refuses a URL whose host is, or resolves to, an address
// that is not on the public internet. A name that does not resolve now is
// let through: the delivery client checks every address it dials, so it
// cannot lead inside later either (nor can DNS rebinding).
func (s *Service) refusePrivate(ctx context.Context, u *url.URL) error {
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	refuse := func(addr string) error {
		return errdefs.Invalidf("webhook URL %q leads to %s, not a public address: %s", u.Redacted(), addr, privateURLAdvice)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if !egress.Public(addr) {
			return refuse(addr.String())
		}
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return refuse("localhost")
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if !egress.Public(a) {
			return refuse(a.Unmap().String())
		}
	}
	return nil
}
