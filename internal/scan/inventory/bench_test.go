package inventory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// benchImage builds a ~100 MiB image: a dpkg database of 300 packages and
// random file data over 3 gzip layers, a third of it in executables (which
// the Go and Rust binary extractors read).
func benchImage(b *testing.B) Image {
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	randomFiles := func(prefix string, n, size int, mode int64) []entry {
		out := make([]entry, n)
		for i := range out {
			buf := make([]byte, size)
			for j := 0; j+8 <= len(buf); j += 8 {
				v := rng.Uint64()
				for k := range 8 {
					buf[j+k] = byte(v >> (8 * k))
				}
			}
			out[i] = entry{name: fmt.Sprintf("%s/file-%04d", prefix, i), body: string(buf), mode: mode}
		}
		return out
	}
	pkgs := make([]debPkg, 300)
	for i := range pkgs {
		pkgs[i] = debPkg{fmt.Sprintf("package-%03d", i), fmt.Sprintf("source-%03d", i/3), fmt.Sprintf("1.%d.0-1+deb12u1", i)}
	}
	const perLayer = 100 << 20 / 3
	var layers []v1.Layer
	base := append([]entry{file("etc/os-release", debian12OSRelease), file("var/lib/dpkg/status", dpkgStatus(pkgs...))},
		randomFiles("usr/share/data", 400, perLayer/400, 0o644)...)
	layers = append(layers, compressedLayer(b, tarOf(b, base...), compression.GZip))
	layers = append(layers, compressedLayer(b, tarOf(b, randomFiles("usr/bin", 100, perLayer/100, 0o755)...), compression.GZip))
	layers = append(layers, compressedLayer(b, tarOf(b, randomFiles("opt/app", 40, perLayer/40, 0o644)...), compression.GZip))
	return imageOf(b, layers...)
}

func BenchmarkScan100MiB(b *testing.B) {
	img := benchImage(b)
	tmp := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		inv, err := Scan(context.Background(), img, Limits{TempDir: tmp})
		if err != nil {
			b.Fatal(err)
		}
		if len(inv.Packages) != 300 {
			b.Fatalf("got %d packages, want 300", len(inv.Packages))
		}
	}
	b.SetBytes(100 << 20)
}
