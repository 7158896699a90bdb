package webhooks

import (
	"context"
	"fmt"
	"slices"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/ent/webhookpolicy"
	"github.com/berth-registry/berth/internal/secrets"
	"github.com/berth-registry/berth/internal/viewer"
)

// The secrets of a policy are stored sealed (see internal/secrets), each
// bound to what it belongs to: the signing secret to the policy's project,
// an auth header to the project and the target's URL, so that neither
// opens when copied into another policy's row or next to another URL.

func secretAD(projectID int) string {
	return fmt.Sprintf("webhook_policy.secret project=%d", projectID)
}

func authHeaderAD(projectID int, url string) string {
	return fmt.Sprintf("webhook_policy.targets.auth_header project=%d url=%s", projectID, url)
}

// sealHeaders returns a copy of validated targets with their auth headers
// sealed; a target without a header keeps "".
func (s *Service) sealHeaders(projectID int, ts []rules.WebhookTarget) []rules.WebhookTarget {
	out := slices.Clone(ts)
	for i, t := range out {
		if t.AuthHeader != "" {
			out[i].AuthHeader = s.opts.Secrets.Seal(t.AuthHeader, authHeaderAD(projectID, t.URL))
		}
	}
	return out
}

// authHeader decrypts a stored target's auth header ("" for none).
func (s *Service) authHeader(projectID int, t rules.WebhookTarget) (string, error) {
	h, err := s.opts.Secrets.Open(t.AuthHeader, authHeaderAD(projectID, t.URL))
	if err != nil {
		return "", fmt.Errorf("the auth header of webhook target %s: %w", hostOf(t.URL), err)
	}
	return h, nil
}

// signingSecret decrypts a stored policy's signing secret.
func (s *Service) signingSecret(pol *ent.WebhookPolicy) (string, error) {
	secret, err := s.opts.Secrets.Open(pol.Secret, secretAD(pol.ProjectID))
	if err != nil {
		return "", fmt.Errorf("the secret of webhook policy %d: %w", pol.ID, err)
	}
	return secret, nil
}

// SealPlaintext encrypts, through tx, the signing secrets and auth headers
// that versions of berth before encryption stored in plaintext, and
// returns how many values it encrypted; run again, it encrypts none. A
// policy keeps its updated_at. On PostgreSQL it locks the policies it
// reads, so replicas starting together encrypt each value once and no
// edit made meanwhile is overwritten.
func SealPlaintext(ctx context.Context, tx *ent.Tx, box *secrets.Box) (int, error) {
	sys := viewer.SystemContext(ctx)
	pols, err := tx.WebhookPolicy.Query().Where(forUpdate).All(sys)
	if err != nil {
		return 0, fmt.Errorf("reading webhook policies: %w", err)
	}
	n := 0
	for _, pol := range pols {
		upd := tx.WebhookPolicy.Update().Where(webhookpolicy.ID(pol.ID)).SetUpdatedAt(pol.UpdatedAt)
		changed := false
		if !secrets.Sealed(pol.Secret) {
			// The column is immutable to ent's builders: the statement
			// sets it itself.
			sealed := box.Seal(pol.Secret, secretAD(pol.ProjectID))
			upd.Modify(func(u *entsql.UpdateBuilder) { u.Set(webhookpolicy.FieldSecret, sealed) })
			changed = true
			n++
		}
		targets := slices.Clone(pol.Targets)
		headers := false
		for i, t := range targets {
			if t.AuthHeader != "" && !secrets.Sealed(t.AuthHeader) {
				targets[i].AuthHeader = box.Seal(t.AuthHeader, authHeaderAD(pol.ProjectID, t.URL))
				headers = true
				n++
			}
		}
		if headers {
			upd.SetTargets(targets)
			changed = true
		}
		if !changed {
			continue
		}
		if err := upd.Exec(sys); err != nil {
			return n, fmt.Errorf("encrypting the secrets of webhook policy %d: %w", pol.ID, err)
		}
	}
	return n, nil
}

// forUpdate locks the rows a query reads until the transaction ends, on
// PostgreSQL (SQLite serialises writing transactions instead).
func forUpdate(s *entsql.Selector) {
	if s.Dialect() == dialect.Postgres {
		s.ForUpdate()
	}
}
