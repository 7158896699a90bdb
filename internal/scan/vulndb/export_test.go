package vulndb

import (
	"context"

	"github.com/berth-registry/berth/ent"
)

// ImportWithDownloadLimit is Import with downloads bounded at limit
// bytes, for tests that send more without sending gigabytes.
func ImportWithDownloadLimit(ctx context.Context, client *ent.Client, limit int64, sources ...string) (Result, error) {
	res, _, err := importFrom(ctx, client, importOptions{maxDownload: limit}, sources)
	return res, err
}
