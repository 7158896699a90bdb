package artifacts

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
)

// MaxLoadBatch bounds how many manifests one PutManifests call stores.
const MaxLoadBatch = 1000

// LoadManifest is one manifest for PutManifests, stored by digest and
// tagged with Tags.
type LoadManifest struct {
	MediaType string
	Raw       []byte
	Tags      []string
}

// PutManifests is the bulk loader: it stores manifests in repository name
// as one change of the write path, checking each as PutManifest checks
// one (digest, tags, parse, blobs present, immutability, quota) and
// recording one change per manifest. It is all or nothing: when one
// manifest is refused, none is stored. Imports and the benchmarks at scale
// use it; a batch costs one transaction and a fixed number of statements,
// where as many PUTs would cost as many transactions.
func (s *Service) PutManifests(ctx context.Context, name string, ms []LoadManifest) (_ []digest.Digest, err error) {
	defer func() { s.record(ctx, "push", name, fmt.Sprintf("%d manifests", len(ms)), err) }()
	if len(ms) > MaxLoadBatch {
		return nil, errdefs.Invalidf("a batch holds at most %d manifests, not %d", MaxLoadBatch, len(ms))
	}
	r, err := s.Access(ctx, name, auth.RepositoryPush)
	if err != nil {
		return nil, err
	}
	pushes := make([]*manifestPush, len(ms))
	digests := make([]digest.Digest, len(ms))
	for i, lm := range ms {
		ref := digest.SHA256.FromBytes(lm.Raw).String()
		if pushes[i], err = checkManifest(lm.MediaType, ref, lm.Raw, lm.Tags); err != nil {
			return nil, fmt.Errorf("manifest %d: %w", i, err)
		}
		digests[i] = pushes[i].dgst
	}
	err = s.push(ctx, r, func(w *writeTx) error {
		_, err := w.putManifests(s, r, pushes)
		return err
	})
	if err != nil {
		return nil, err
	}
	return digests, nil
}
