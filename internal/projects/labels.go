package projects

import (
	"context"
	"regexp"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/label"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

var colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// LabelInput describes a label; Project empty means a system-wide label.
type LabelInput struct {
	Name        string
	Description string
	Color       string
	Project     string
}

func validateLabel(name, color string) error {
	if name == "" || len(name) > 128 {
		return errdefs.Invalidf("label name must be 1 to 128 characters")
	}
	if !colorPattern.MatchString(color) {
		return errdefs.Invalidf("label color %q is invalid: use #rrggbb", color)
	}
	return nil
}

// CreateLabel makes a label: system-wide ones by system admins, project ones
// by those who may manage the project's labels.
func (s *Service) CreateLabel(ctx context.Context, in LabelInput) (*ent.Label, error) {
	if in.Color == "" {
		in.Color = "#5c7cfa"
	}
	if err := validateLabel(in.Name, in.Color); err != nil {
		return nil, err
	}
	create := s.client.Label.Create().SetName(in.Name).SetDescription(in.Description).SetColor(in.Color)
	if in.Project == "" {
		if _, err := auth.RequireAdmin(ctx); err != nil {
			return nil, err
		}
		create.SetScope(label.ScopeGLOBAL)
	} else {
		p, err := s.Get(ctx, in.Project)
		if err != nil {
			return nil, err
		}
		if err := s.auth.Can(ctx, auth.LabelWrite, p); err != nil {
			return nil, err
		}
		create.SetScope(label.ScopePROJECT).SetProjectID(p.ID)
	}
	if err := s.checkLabelNameFree(ctx, in.Name, create.Mutation(), 0); err != nil {
		return nil, err
	}
	return create.Save(auth.Allow(ctx))
}

// checkLabelNameFree enforces unique names within a scope (a unique index
// cannot, since system-wide labels have no project).
func (s *Service) checkLabelNameFree(ctx context.Context, name string, m *ent.LabelMutation, except int) error {
	q := s.client.Label.Query().Where(label.Name(name), label.IDNEQ(except))
	if pid, ok := m.ProjectID(); ok {
		q.Where(label.ProjectID(pid))
	} else {
		q.Where(label.ProjectIDIsNil())
	}
	exists, err := q.Exist(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	if exists {
		return errdefs.Conflictf("a label named %q already exists here", name)
	}
	return nil
}

// LabelUpdate changes a label; nil fields stay as they are.
type LabelUpdate struct {
	Name, Description, Color *string
}

// label returns a label the caller may change.
func (s *Service) writableLabel(ctx context.Context, id int) (*ent.Label, error) {
	l, err := s.client.Label.Query().Where(label.ID(id)).WithProject().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errdefs.NotFoundf("label %d does not exist", id)
	}
	if err != nil {
		return nil, err
	}
	if l.Edges.Project == nil {
		if _, err := auth.RequireAdmin(ctx); err != nil {
			return nil, err
		}
		return l, nil
	}
	return l, s.auth.Can(ctx, auth.LabelWrite, l.Edges.Project)
}

// UpdateLabel changes a label's name, description or colour.
func (s *Service) UpdateLabel(ctx context.Context, id int, in LabelUpdate) (*ent.Label, error) {
	l, err := s.writableLabel(ctx, id)
	if err != nil {
		return nil, err
	}
	name, color := l.Name, l.Color
	if in.Name != nil {
		name = *in.Name
	}
	if in.Color != nil {
		color = *in.Color
	}
	if err := validateLabel(name, color); err != nil {
		return nil, err
	}
	upd := s.client.Label.UpdateOneID(id).SetName(name).SetColor(color)
	if in.Description != nil {
		upd.SetDescription(*in.Description)
	}
	if name != l.Name {
		m := s.client.Label.Create().Mutation()
		if l.ProjectID != nil {
			m.SetProjectID(*l.ProjectID)
		}
		if err := s.checkLabelNameFree(ctx, name, m, id); err != nil {
			return nil, err
		}
	}
	return upd.Save(auth.Allow(ctx))
}

// DeleteLabel deletes a label and takes it off every artifact.
func (s *Service) DeleteLabel(ctx context.Context, id int) error {
	if _, err := s.writableLabel(ctx, id); err != nil {
		return err
	}
	return database.WithTx(auth.Allow(ctx), s.client, func(tx *ent.Tx) error {
		ctx := auth.Allow(ctx) // the transaction writes on the caller's behalf
		if err := tx.Label.UpdateOneID(id).ClearArtifacts().Exec(ctx); err != nil {
			return err
		}
		return tx.Label.DeleteOneID(id).Exec(ctx)
	})
}

// SetArtifactLabel adds (on) or removes (off) a label on an artifact of
// project p. The label must be system-wide or belong to the same project.
func (s *Service) SetArtifactLabel(ctx context.Context, p *ent.Project, a *ent.Artifact, labelID int, on bool) error {
	if err := s.auth.Can(ctx, auth.ArtifactLabelWrite, p); err != nil {
		return err
	}
	l, err := s.client.Label.Get(ctx, labelID)
	if ent.IsNotFound(err) {
		return errdefs.NotFoundf("label %d does not exist", labelID)
	}
	if err != nil {
		return err
	}
	if l.ProjectID != nil && *l.ProjectID != p.ID {
		return errdefs.Invalidf("label %q belongs to another project", l.Name)
	}
	upd := s.client.Artifact.UpdateOneID(a.ID)
	if on {
		has, err := a.QueryLabels().Where(label.ID(labelID)).Exist(viewer.SystemContext(ctx))
		if err != nil || has {
			return err
		}
		upd.AddLabelIDs(labelID)
	} else {
		upd.RemoveLabelIDs(labelID)
	}
	return upd.Exec(auth.Allow(ctx))
}
