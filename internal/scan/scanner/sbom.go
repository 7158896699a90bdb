package scanner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/scan/inventory"
	"github.com/berth-registry/berth/internal/scan/sbom"
)

// SBOMs: a successful scan of an image attaches the image's software bill
// of materials to it as an OCI 1.1 referrer in its own repository, pushed
// as berth itself through the content service like any push (its blobs
// committed, quota and immutability rules applied, ARTIFACT_PUSHED
// recorded), so the referrers API, `oras discover` and Artifact.referrers
// list it.

// sbomEpoch is the creation time of the SBOM of an image whose config
// names none: a document's bytes must not depend on when it was made.
var sbomEpoch = time.Unix(0, 0).UTC()

// sbomFormats are the media types of the documents a scan attaches.
func (s *Service) sbomFormats() []string {
	if s.opts.CycloneDX {
		return []string{sbom.MediaTypeSPDX, sbom.MediaTypeCycloneDX}
	}
	return []string{sbom.MediaTypeSPDX}
}

// attachSBOMs makes the SBOMs of image a from what its scan found and
// attaches them, replacing those berth attached before. ctx is berth's
// own. A failure leaves the scan's report as it is: the error is logged,
// and the next scan tries again.
func (s *Service) attachSBOMs(ctx context.Context, a *ent.Artifact, config []byte, inv *inventory.Inventory) {
	if s.Content == nil {
		return
	}
	repo, err := s.opts.Client.Repository.Get(ctx, a.RepositoryID)
	if err != nil {
		s.opts.Logger.Warn("attaching the SBOM", "digest", a.Digest, "err", err)
		return
	}
	for _, format := range s.sbomFormats() {
		if err := s.attachSBOM(ctx, repo.Name, a, config, inv, format); err != nil {
			s.opts.Logger.Warn("attaching the SBOM", "repository", repo.Name, "digest", a.Digest, "format", format, "err", err)
		}
	}
}

// attachSBOM pushes the document of one format into repository name with
// image a as its subject, unless the repository holds that very manifest
// already, then deletes the older SBOMs of that format berth attached to
// a. The document's bytes depend only on the image, its repository, the
// registry's host and berth's version, so scanning an unchanged image
// again changes nothing. Only SBOMs stored before this one are deleted:
// two scans of one image racing with different documents (replicas of
// two versions) cannot delete each other's, and the next scan tidies up.
func (s *Service) attachSBOM(ctx context.Context, name string, a *ent.Artifact, config []byte, inv *inventory.Inventory, format string) error {
	created, platform := imageFacts(config)
	subject := sbom.Subject{Repository: s.host + "/" + name, Digest: a.Digest, MediaType: a.MediaType, Platform: platform}
	opts := sbom.Options{Created: created, ToolVersion: s.opts.ToolVersion}
	var doc []byte
	var err error
	if format == sbom.MediaTypeCycloneDX {
		doc, err = sbom.CycloneDX(inv, subject, opts)
	} else {
		doc, err = sbom.SPDX(inv, subject, opts)
	}
	if err != nil {
		return err
	}
	desc := ocispec.Descriptor{MediaType: a.MediaType, Digest: digest.Digest(a.Digest), Size: int64(len(a.Manifest))}
	manifest, empty, err := sbom.Manifest(desc, doc, format, created)
	if err != nil {
		return err
	}
	d := digest.FromBytes(manifest)
	mine, err := s.opts.Client.Artifact.Query().
		Where(artifact.RepositoryID(a.RepositoryID), artifact.Digest(d.String())).Select(artifact.FieldID).Only(ctx)
	if ent.IsNotFound(err) {
		if mine, err = s.pushReferrer(ctx, name, d, manifest, empty, doc); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	older, err := s.opts.Client.Artifact.Query().Where(artifact.RepositoryID(a.RepositoryID),
		artifact.SubjectDigest(a.Digest), artifact.OciArtifactType(format), artifact.IDLT(mine.ID)).
		Select(artifact.FieldID, artifact.FieldDigest, artifact.FieldAnnotations).All(ctx)
	if err != nil {
		return err
	}
	for _, old := range older {
		if !madeByBerth(old) {
			continue // attached by a user: theirs to keep
		}
		// Another scan may have deleted it a moment ago.
		if err := s.Content.DeleteManifest(ctx, name, old.Digest); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("deleting the previous SBOM %s: %w", old.Digest, err)
		}
	}
	return nil
}

// pushReferrer stores manifest (digest d) and its blobs in repository
// name the way a client's push does: each blob the repository does not
// hold is checked against the project's quota, staged in the blob store
// and committed, then the manifest is put by digest.
func (s *Service) pushReferrer(ctx context.Context, name string, d digest.Digest, manifest []byte, blobs ...[]byte) (*ent.Artifact, error) {
	r, err := s.Content.Access(ctx, name, auth.RepositoryPush)
	if err != nil {
		return nil, err
	}
	for _, b := range blobs {
		if err := s.commitBlob(ctx, r, b); err != nil {
			return nil, err
		}
	}
	res, err := s.Content.PutManifest(ctx, name, d.String(), ocispec.MediaTypeImageManifest, bytes.NewReader(manifest), nil)
	if err != nil {
		return nil, err
	}
	return res.Artifact, nil
}

// commitBlob makes blob b readable from repository r.
func (s *Service) commitBlob(ctx context.Context, r *artifacts.Repo, b []byte) error {
	d, size := digest.FromBytes(b), int64(len(b))
	if _, err := s.Content.BlobSize(ctx, r, d); err == nil {
		return nil
	} else if !errors.Is(err, artifacts.ErrBlobUnknown) {
		return err
	}
	if err := s.Content.CheckQuota(ctx, r, d, size); err != nil {
		return err
	}
	staged, _, err := s.opts.Blobs.Stage(ctx, d, bytes.NewReader(b))
	if err != nil {
		return err
	}
	// Nothing is left to cancel once the upload became the blob.
	defer s.opts.Blobs.CancelUpload(context.WithoutCancel(ctx), staged)
	return s.Content.CommitBlob(ctx, r, d, size, func(ctx context.Context) error {
		_, err := s.opts.Blobs.CommitUpload(ctx, staged, d)
		return err
	})
}

// madeByBerth reports whether a referrer is one berth's scans attached.
func madeByBerth(a *ent.Artifact) bool {
	return a.Annotations[sbom.AnnotationGenerator] == "berth"
}

// imageFacts reads an image config's creation time (sbomEpoch when it
// names none) and platform ("os/arch[/variant]").
func imageFacts(config []byte) (time.Time, string) {
	var c ocispec.Image
	if json.Unmarshal(config, &c) != nil {
		return sbomEpoch, ""
	}
	created := sbomEpoch
	if c.Created != nil && c.Created.Year() > 1 {
		created = *c.Created
	}
	var platform string
	if c.OS != "" && c.Architecture != "" {
		platform = strings.TrimSuffix(c.OS+"/"+c.Architecture+"/"+c.Variant, "/")
	}
	return created, platform
}

// SBOM returns the SPDX document berth's scans attached to the artifact
// of report r: the newest when two scans raced, nil for an index, for an
// image no scan has succeeded on since SBOMs are made, or when the
// caller may not read it. Both reads run as the caller.
func (s *Service) SBOM(ctx context.Context, r *ent.ScanReport) (*ent.Artifact, error) {
	a, err := s.opts.Client.Artifact.Query().Where(artifact.ID(r.ArtifactID)).
		Select(artifact.FieldRepositoryID, artifact.FieldDigest).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	refs, err := s.opts.Client.Artifact.Query().Where(artifact.RepositoryID(a.RepositoryID),
		artifact.SubjectDigest(a.Digest), artifact.OciArtifactType(sbom.MediaTypeSPDX)).
		Order(ent.Desc(artifact.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, ref := range refs {
		if madeByBerth(ref) {
			return ref, nil
		}
	}
	return nil, nil
}

// registryHost is how clients name the registry in image references: the
// external URL without its scheme.
func registryHost(externalURL string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(externalURL, "https://"), "http://")
	return strings.TrimSuffix(host, "/")
}
