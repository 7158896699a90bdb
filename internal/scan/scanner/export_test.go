package scanner

import (
	"context"

	"github.com/berth-registry/berth/ent"
)

// ScanImage runs the scan of one image as a scan job does, SBOMs
// included, without storing its report.
func (s *Service) ScanImage(ctx context.Context, a *ent.Artifact) error {
	_, err := s.scanImage(ctx, a)
	return err
}
