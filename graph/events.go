package graph

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/viewer"
)

// accessTTL is how long a subscription trusts its last answer to "may the
// subscriber read this project": a member removed from a project stops
// receiving its events within it.
const accessTTL = 5 * time.Second

// eventFilter decides which events one subscription receives: the types
// and project it asked for, of projects its subscriber may read by the
// rules queries follow; system-wide events go to system admins only.
type eventFilter struct {
	r       *Resolver
	project string
	types   []events.Type
	access  map[string]access
}

type access struct {
	ok bool
	at time.Time
}

func (r *Resolver) eventFilter(ctx context.Context, projectName *string, types []events.Type) (*eventFilter, error) {
	if len(types) > len(events.Types) {
		return nil, badInput("types lists at most %d event types", len(events.Types))
	}
	f := &eventFilter{r: r, types: types, access: map[string]access{}}
	if projectName != nil {
		f.project = *projectName
		p, err := r.DB.Project.Query().Where(project.Name(f.project)).Only(viewer.SystemContext(ctx))
		if ent.IsNotFound(err) {
			return nil, errdefs.NotFoundf("project %q not found", f.project)
		}
		if err != nil {
			return nil, err
		}
		if err := r.Auth.Can(ctx, auth.ProjectRead, p); err != nil {
			if errors.Is(err, errdefs.ErrDenied) || errors.Is(err, errdefs.ErrUnauthenticated) {
				// Like queries: a project one may not read does not exist.
				return nil, errdefs.NotFoundf("project %q not found", f.project)
			}
			return nil, err
		}
	}
	return f, nil
}

// matches is the cheap part of the filter, run on the bus for every event.
func (f *eventFilter) matches(e events.Event) bool {
	return (f.project == "" || e.Project == f.project) && (len(f.types) == 0 || slices.Contains(f.types, e.Type))
}

// mayRead reports whether the subscriber may read project name's events,
// checking again at most every accessTTL. Only the subscription's own
// goroutine calls it.
func (f *eventFilter) mayRead(ctx context.Context, name string) bool {
	v := viewer.FromContext(ctx)
	if name == "" || v.IsAdmin() {
		return v.IsAdmin()
	}
	if a, ok := f.access[name]; ok && time.Since(a.at) < accessTTL {
		return a.ok
	}
	ok := false
	p, err := f.r.DB.Project.Query().Where(project.Name(name)).Only(viewer.SystemContext(ctx))
	if err == nil {
		ok = f.r.Auth.Can(ctx, auth.ProjectRead, p) == nil
	}
	if len(f.access) > 1000 {
		clear(f.access)
	}
	f.access[name] = access{ok: ok, at: time.Now()}
	return ok
}
