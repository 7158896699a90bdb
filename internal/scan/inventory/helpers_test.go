package inventory

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is one tar entry of a test layer.
type entry struct {
	name     string
	body     string
	mode     int64 // 0 means 0o644 (0o755 for directories)
	typeflag byte  // 0 means a regular file
	linkname string
}

func file(name, body string) entry { return entry{name: name, body: body} }
func dir(name string) entry        { return entry{name: name, typeflag: tar.TypeDir} }
func symlink(name, target string) entry {
	return entry{name: name, typeflag: tar.TypeSymlink, linkname: target}
}

// tarOf writes entries as an uncompressed tar.
func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typeflag, Linkname: e.linkname, Mode: e.mode, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipLayer makes a gzip-compressed (Docker media type) layer of a tar.
func gzipLayer(t testing.TB, tarball_ []byte) v1.Layer {
	return compressedLayer(t, tarball_, compression.GZip)
}

func compressedLayer(t testing.TB, raw []byte, c compression.Compression) v1.Layer {
	t.Helper()
	opts := []tarball.LayerOption{tarball.WithCompression(c), tarball.WithCompressedCaching}
	if c == compression.ZStd {
		opts = append(opts, tarball.WithMediaType(types.OCILayerZStd))
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// rawLayer makes an uncompressed OCI layer of a tar.
func rawLayer(raw []byte) v1.Layer { return static.NewLayer(raw, types.OCIUncompressedLayer) }

// imageOf builds an image of layers with go-containerregistry and adapts it
// to Image, the way berth adapts its blobs.
func imageOf(t testing.TB, layers ...v1.Layer) Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return fromV1(t, img)
}

func fromV1(t testing.TB, img v1.Image) Image {
	t.Helper()
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := Image{Config: cfg}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		mt, err := l.MediaType()
		if err != nil {
			t.Fatal(err)
		}
		size, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		// Read the blob once so that Open is cheap and repeatable.
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		blob, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out.Layers = append(out.Layers, Layer{
			Digest: d.String(), MediaType: string(mt), Size: size,
			Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil },
		})
	}
	return out
}

// blobLayer is a layer of raw blob bytes with any media type.
func blobLayer(mediaType string, blob []byte) Layer {
	return Layer{
		Digest: "sha256:test", MediaType: mediaType, Size: int64(len(blob)),
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil },
	}
}

func digestOf(t testing.TB, l v1.Layer) string {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func scan(t testing.TB, img Image, limits Limits) *Inventory {
	t.Helper()
	if limits.TempDir == "" {
		limits.TempDir = t.TempDir()
	}
	inv, err := Scan(context.Background(), img, limits)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return inv
}

// find returns the packages of type typ named name.
func find(inv *Inventory, typ, name string) []Package {
	var out []Package
	for _, p := range inv.Packages {
		if p.Type == typ && p.Name == name {
			out = append(out, p)
		}
	}
	return out
}

// one returns the single package of type typ named name.
func one(t *testing.T, inv *Inventory, typ, name string) Package {
	t.Helper()
	ps := find(inv, typ, name)
	if len(ps) != 1 {
		t.Fatalf("want one %s package %q, got %d; inventory: %+v", typ, name, len(ps), inv.Packages)
	}
	return ps[0]
}
