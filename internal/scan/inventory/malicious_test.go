package inventory

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// scanErr scans img and returns the error, checking that the scan's
// temporary directory is gone afterwards.
func scanErr(t *testing.T, img Image, limits Limits) error {
	t.Helper()
	limits.TempDir = t.TempDir()
	_, err := Scan(context.Background(), img, limits)
	left, rerr := os.ReadDir(limits.TempDir)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if len(left) != 0 {
		t.Errorf("scan left %d entries in its temporary directory", len(left))
	}
	return err
}

func TestPathTraversalIsRejected(t *testing.T) {
	for _, name := range []string{"../evil", "../../etc/cron.d/evil", "a/../../evil", "/../evil"} {
		t.Run(name, func(t *testing.T) {
			img := imageOf(t, gzipLayer(t, tarOf(t, file(name, "x"))))
			if err := scanErr(t, img, Limits{}); !errors.Is(err, ErrInvalidLayer) {
				t.Fatalf("err = %v, want ErrInvalidLayer", err)
			}
		})
	}
}

func TestHardlinkTraversalIsRejected(t *testing.T) {
	img := imageOf(t, gzipLayer(t, tarOf(t, entry{name: "etc/shadow-copy", typeflag: tar.TypeLink, linkname: "../../etc/shadow"})))
	if err := scanErr(t, img, Limits{}); !errors.Is(err, ErrInvalidLayer) {
		t.Fatalf("err = %v, want ErrInvalidLayer", err)
	}
}

// TestSymlinksStayInsideImage points symlinks at a host directory holding a
// dpkg database: the scan must resolve them inside the image and find
// nothing.
func TestSymlinksStayInsideImage(t *testing.T) {
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "var/lib/dpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	status := dpkgStatus(debPkg{"host-only", "", "1.0"})
	if err := os.WriteFile(filepath.Join(host, "var/lib/dpkg/status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	escape := strings.Repeat("../", 20) + strings.TrimPrefix(host, "/")
	img := imageOf(t, gzipLayer(t, tarOf(t,
		symlink("var/lib/dpkg", escape+"/var/lib/dpkg"),   // relative, climbing out
		symlink("etc/os-release", host+"/etc/os-release"), // absolute host path
		symlink("loop/a", "b"), symlink("loop/b", "a"),    // a cycle
		symlink("app/package-lock.json", "/app/package-lock.json"), // itself
	)))
	inv := scan(t, img, Limits{})
	if len(inv.Packages) != 0 {
		t.Errorf("packages found through escaping symlinks: %+v", inv.Packages)
	}
}

func TestSymlinkThenFileThroughIt(t *testing.T) {
	// A layer that plants a symlink to a host path and then writes through
	// it must not write on the host: nothing is ever written but the
	// content blob, so this only has to not fail or escape.
	host := t.TempDir()
	img := imageOf(t, gzipLayer(t, tarOf(t,
		symlink("evil", host),
		file("evil/planted", "x"),
	)))
	scan(t, img, Limits{})
	if _, err := os.Stat(filepath.Join(host, "planted")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file planted on the host: %v", err)
	}
}

func TestUncompressedSizeBomb(t *testing.T) {
	// 64 MiB of zeros in one file gzip to about 64 KiB.
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	size := int64(64 << 20)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeroReader{}, size); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(raw.Bytes())
	zw.Close()
	img := Image{Layers: []Layer{blobLayer(MediaTypeOCILayerGzip, gz.Bytes())}}
	if err := scanErr(t, img, Limits{MaxUncompressedBytes: 8 << 20}); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("err = %v, want ErrLimitExceeded", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestFileCountLimit(t *testing.T) {
	var entries []entry
	for i := range 200 {
		entries = append(entries, file("f/"+strings.Repeat("x", i%50)+string(rune('a'+i%26)), ""))
	}
	img := imageOf(t, gzipLayer(t, tarOf(t, entries...)))
	if err := scanErr(t, img, Limits{MaxFiles: 100}); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("err = %v, want ErrLimitExceeded", err)
	}
}

func TestTempBytesLimit(t *testing.T) {
	big := dpkgStatus(debPkg{"a", "", "1"}) + strings.Repeat("# padding\n", 200_000) // 2 MB status file
	img := imageOf(t, gzipLayer(t, tarOf(t, file("var/lib/dpkg/status", big))))
	if err := scanErr(t, img, Limits{MaxTempBytes: 1 << 20}); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("err = %v, want ErrLimitExceeded", err)
	}
}

func TestMalformedLayers(t *testing.T) {
	valid := tarOf(t, file("etc/os-release", debian12OSRelease), file("var/lib/dpkg/status", dpkgStatus(debPkg{"a", "", "1"})))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(valid)
	zw.Close()
	cases := map[string]Layer{
		"truncated tar":  blobLayer(MediaTypeOCILayer, valid[:3*512+50]), // inside the dpkg status
		"truncated gzip": blobLayer(MediaTypeOCILayerGzip, gz.Bytes()[:gz.Len()/2]),
		"garbage gzip":   blobLayer(MediaTypeOCILayerGzip, append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{0xff}, 100)...)),
		"garbage zstd":   blobLayer(MediaTypeOCILayerZstd, append([]byte{0x28, 0xb5, 0x2f, 0xfd}, bytes.Repeat([]byte{0xff}, 100)...)),
		"not a tar":      blobLayer(MediaTypeOCILayer, bytes.Repeat([]byte("hello world\n"), 100)),
	}
	for name, l := range cases {
		t.Run(name, func(t *testing.T) {
			err := scanErr(t, Image{Layers: []Layer{l}}, Limits{})
			if !errors.Is(err, ErrInvalidLayer) {
				t.Fatalf("err = %v, want ErrInvalidLayer", err)
			}
		})
	}
}

func TestNotScannable(t *testing.T) {
	cases := map[string]Image{
		"helm chart": {Layers: []Layer{blobLayer("application/vnd.cncf.helm.chart.content.v1.tar+gzip", nil)}},
		"sbom":       {Layers: []Layer{blobLayer("application/spdx+json", []byte("{}"))}},
		"no layers":  {Config: []byte(`{"os":"linux"}`)},
		"windows":    {Config: []byte(`{"os":"windows"}`), Layers: []Layer{blobLayer(MediaTypeOCILayer, nil)}},
		"bad config": {Config: []byte(`not json`), Layers: []Layer{blobLayer(MediaTypeOCILayer, nil)}},
	}
	for name, img := range cases {
		t.Run(name, func(t *testing.T) {
			if err := scanErr(t, img, Limits{}); !errors.Is(err, ErrNotScannable) {
				t.Fatalf("err = %v, want ErrNotScannable", err)
			}
		})
	}
}

func TestCanceled(t *testing.T) {
	img := imageOf(t, gzipLayer(t, tarOf(t, file("a", "b"))))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, img, Limits{TempDir: t.TempDir()}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
