package pullpolicy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/cveallowlist"
	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// Allowlist is a CVE allowlist: the system's (Project empty) or a project's.
type Allowlist struct {
	// Project is the project's name, empty for the system-wide list.
	Project   string
	Entries   []rules.CVEAllowance
	UpdatedAt *time.Time
	UpdatedBy string
}

// allowed returns the ids the system's and project projectID's allowlists
// cover now, upper-cased.
func (s *Service) allowed(sys context.Context, projectID int) (map[string]bool, error) {
	lists, err := s.client.CVEAllowlist.Query().Where(cveallowlist.ProjectIDIn(0, projectID)).All(sys)
	if err != nil {
		return nil, fmt.Errorf("reading the CVE allowlists: %w", err)
	}
	now := s.now()
	ids := map[string]bool{}
	for _, l := range lists {
		for _, e := range l.Entries {
			if e.Active(now) {
				ids[rules.NormalizeVulnerabilityID(e.CVE)] = true
			}
		}
	}
	return ids, nil
}

// scope resolves the project an allowlist call names (nil: the system),
// after checking that the caller may do action on it. The system's list
// is read by every signed-in caller and written by system admins.
func (s *Service) scope(ctx context.Context, name *string, action auth.Action) (*ent.Project, error) {
	v := viewer.FromContext(ctx)
	if name == nil {
		switch {
		case v.IsAnonymous():
			return nil, errdefs.Unauthenticatedf("sign in to read the system CVE allowlist")
		case action == auth.PolicyWrite && v.ReadOnly:
			return nil, errdefs.Deniedf("this access token is read-only")
		case action == auth.PolicyWrite && !v.IsAdmin():
			return nil, errdefs.Deniedf("only system administrators may change the system CVE allowlist")
		}
		return nil, nil
	}
	p, err := s.auth.ProjectCan(ctx, *name, action)
	if errors.Is(err, errdefs.ErrNotFound) && v.IsAnonymous() {
		return nil, errdefs.Unauthenticatedf("sign in to use the CVE allowlist of project %q", *name)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// GetAllowlist returns the system's allowlist (project nil) or a project's.
func (s *Service) GetAllowlist(ctx context.Context, name *string) (*Allowlist, error) {
	p, err := s.scope(ctx, name, auth.PolicyRead)
	if err != nil {
		return nil, err
	}
	return s.ProjectAllowlist(ctx, p)
}

// ProjectAllowlist returns p's allowlist (nil p: the system's), for a
// caller already allowed to read it.
func (s *Service) ProjectAllowlist(ctx context.Context, p *ent.Project) (*Allowlist, error) {
	id, out := 0, &Allowlist{Entries: []rules.CVEAllowance{}}
	if p != nil {
		id, out.Project = p.ID, p.Name
	}
	l, err := s.client.CVEAllowlist.Query().Where(cveallowlist.ProjectID(id)).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out.Entries, out.UpdatedAt, out.UpdatedBy = l.Entries, &l.UpdatedAt, l.UpdatedBy
	return out, nil
}

// SetAllowlist replaces the system's allowlist (project nil) or a
// project's with entries: ids are checked, upper-cased and deduplicated
// (the latest expiry of a repeated id wins; no expiry beats any).
func (s *Service) SetAllowlist(ctx context.Context, name *string, entries []rules.CVEAllowance) (*Allowlist, error) {
	p, err := s.scope(ctx, name, auth.PolicyWrite)
	if err != nil {
		return nil, err
	}
	clean, err := cleanEntries(entries)
	if err != nil {
		return nil, err
	}
	id := 0
	if p != nil {
		id = p.ID
	}
	sys := viewer.SystemContext(ctx)
	err = s.client.CVEAllowlist.Create().SetProjectID(id).SetEntries(clean).
		SetUpdatedBy(viewer.FromContext(ctx).Name()).SetUpdatedAt(s.now()).
		OnConflictColumns(cveallowlist.FieldProjectID).
		UpdateEntries().UpdateUpdatedBy().UpdateUpdatedAt().Exec(sys)
	if err != nil {
		return nil, fmt.Errorf("saving the CVE allowlist: %w", err)
	}
	return s.ProjectAllowlist(ctx, p)
}

// cleanEntries validates and normalizes an allowlist.
func cleanEntries(entries []rules.CVEAllowance) ([]rules.CVEAllowance, error) {
	if len(entries) > rules.MaxCVEAllowances {
		return nil, errdefs.Invalidf("a CVE allowlist holds at most %d entries, not %d", rules.MaxCVEAllowances, len(entries))
	}
	byID := map[string]rules.CVEAllowance{}
	for _, e := range entries {
		id := rules.NormalizeVulnerabilityID(e.CVE)
		if !rules.ValidVulnerabilityID(id) {
			return nil, errdefs.Invalidf("%q is not a vulnerability id (such as CVE-2024-1234 or GHSA-xxxx-xxxx-xxxx)", clip(e.CVE, 64))
		}
		e.CVE = id
		if e.ExpiresAt != nil {
			t := e.ExpiresAt.UTC()
			e.ExpiresAt = &t
		}
		if prev, ok := byID[id]; ok && (prev.ExpiresAt == nil || (e.ExpiresAt != nil && prev.ExpiresAt.After(*e.ExpiresAt))) {
			continue
		}
		byID[id] = e
	}
	out := make([]rules.CVEAllowance, 0, len(byID))
	for _, e := range byID {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CVE < out[j].CVE })
	return out, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
