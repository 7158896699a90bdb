package sbom

import (
	"fmt"
	"testing"

	"github.com/berth-registry/berth/internal/scan/inventory"
)

// largeInventory has n npm packages spread over two layers.
func largeInventory(n int) *inventory.Inventory {
	inv := &inventory.Inventory{OS: inventory.OSRelease{ID: "debian", VersionID: "12"}}
	for i := range n {
		layer := baseLayer
		if i%2 == 1 {
			layer = appLayer
		}
		name := fmt.Sprintf("pkg-%06d", i)
		inv.Packages = append(inv.Packages, inventory.Package{
			Name: name, Version: "1.2.3", Ecosystem: "npm", Type: "npm",
			PURL:        "pkg:npm/" + name + "@1.2.3",
			LayerDigest: layer,
			Locations:   []string{"app/node_modules/" + name + "/package.json"},
		})
	}
	return inv
}

// BenchmarkDocuments measures a 20,000-package image, the size of a large
// Node.js application image.
func BenchmarkDocuments(b *testing.B) {
	inv := largeInventory(20_000)
	for name, format := range formats {
		b.Run(name, func(b *testing.B) {
			var size int
			for b.Loop() {
				out, err := format(inv, fixtureSubject(), fixtureOptions())
				if err != nil {
					b.Fatal(err)
				}
				size = len(out)
			}
			b.ReportMetric(float64(size)/float64(len(inv.Packages)), "bytes/package")
		})
	}
}
