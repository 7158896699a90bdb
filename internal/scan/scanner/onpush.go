package scanner

import (
	"context"
	"slices"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/scanreport"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/viewer"
)

// Enqueue is scan on push: the event dispatcher hands it every batch of
// events before marking them published, and it enqueues a scan of every
// image and index pushed (or copied) into a project that scans on push.
// An image whose report is current (pushed again under another tag) is not
// scanned again. A batch that comes again after a crash asks again; a scan
// that waits already is not enqueued twice.
func (s *Service) Enqueue(ctx context.Context, evs []events.Event) error {
	if s.Jobs == nil {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	var names []string
	for _, e := range evs {
		if e.Type == events.PushArtifact && e.Digest != "" && !slices.Contains(names, e.Project) {
			names = append(names, e.Project)
		}
	}
	if len(names) == 0 {
		return nil
	}
	scanning, err := s.opts.Client.Project.Query().
		Where(project.NameIn(names...), project.ScanOnPush(true)).
		Select(project.FieldName).Strings(sys)
	if err != nil || len(scanning) == 0 {
		return err
	}
	state, err := s.databaseState(sys)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.Type != events.PushArtifact || e.Digest == "" || !slices.Contains(scanning, e.Project) {
			continue
		}
		a, err := s.opts.Client.Artifact.Query().Where(
			artifact.Digest(e.Digest), artifact.HasRepositoryWith(repository.Name(e.Repository)),
			artifact.ArtifactTypeIn(artifact.ArtifactTypeIMAGE, artifact.ArtifactTypeIMAGE_INDEX),
		).Select(artifact.FieldID).Only(sys)
		if ent.IsNotFound(err) {
			continue // not an image, or deleted since
		}
		if err != nil {
			return err
		}
		// The same image pushed again (another tag) has a current report.
		current, err := s.opts.Client.ScanReport.Query().Where(scanreport.ArtifactID(a.ID),
			scanreport.StatusEQ(scanreport.StatusSUCCESS), scanreport.DbState(state.key)).Exist(sys)
		if err != nil {
			return err
		}
		if current {
			continue
		}
		if _, err := s.enqueue(sys, a.ID, "berth (scan on push)"); err != nil {
			return err
		}
	}
	return nil
}
