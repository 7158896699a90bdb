package inventory

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Layer media types this package can read.
const (
	MediaTypeOCILayer         = "application/vnd.oci.image.layer.v1.tar"
	MediaTypeOCILayerGzip     = "application/vnd.oci.image.layer.v1.tar+gzip"
	MediaTypeOCILayerZstd     = "application/vnd.oci.image.layer.v1.tar+zstd"
	MediaTypeDockerLayer      = "application/vnd.docker.image.rootfs.diff.tar"
	MediaTypeDockerLayerGzip  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mediaTypeOCINondistGzip   = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
	mediaTypeOCINondist       = "application/vnd.oci.image.layer.nondistributable.v1.tar"
	mediaTypeOCINondistZstd   = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
	mediaTypeDockerForeignTar = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// zstdMaxWindow bounds the memory a zstd frame may ask the decoder for.
const zstdMaxWindow = 128 << 20

// layerMediaTypes lists the accepted layer media types. The compression is
// detected from the blob's first bytes, as registries hold images whose
// media type does not match their compression.
var layerMediaTypes = map[string]bool{
	MediaTypeOCILayer: true, MediaTypeOCILayerGzip: true, MediaTypeOCILayerZstd: true,
	MediaTypeDockerLayer: true, MediaTypeDockerLayerGzip: true,
	mediaTypeOCINondist: true, mediaTypeOCINondistGzip: true, mediaTypeOCINondistZstd: true,
	mediaTypeDockerForeignTar: true,
}

// Scannable reports whether layers of this media type can be scanned.
func Scannable(mediaType string) bool { return layerMediaTypes[mediaType] }

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress returns the uncompressed tar stream of a layer blob.
func decompress(blob io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(blob, 64<<10)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read layer header: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", ErrInvalidLayer, err)
		}
		return zr, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %w", ErrInvalidLayer, err)
		}
		return zr.IOReadCloser(), nil
	default:
		return io.NopCloser(br), nil
	}
}
