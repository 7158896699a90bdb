package sbom

import (
	"bytes"
	"slices"
	"testing"

	"github.com/berth-registry/berth/internal/scan/inventory"
)

var formats = map[string]func(*inventory.Inventory, Subject, Options) ([]byte, error){
	"SPDX":      SPDX,
	"CycloneDX": CycloneDX,
}

func TestDocumentsAreDeterministicWhateverThePackageOrder(t *testing.T) {
	for name, format := range formats {
		t.Run(name, func(t *testing.T) {
			first, err := format(fixtureInventory(), fixtureSubject(), fixtureOptions())
			if err != nil {
				t.Fatal(err)
			}
			second, err := format(fixtureInventory(), fixtureSubject(), fixtureOptions())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Error("two calls with the same input gave different documents")
			}

			reordered := fixtureInventory()
			slices.Reverse(reordered.Packages)
			subject := fixtureSubject()
			slices.Reverse(subject.Tags)
			third, err := format(reordered, subject, fixtureOptions())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, third) {
				t.Error("reordering packages or tags changed the document")
			}

			later := fixtureOptions()
			later.Created = later.Created.AddDate(0, 0, 1)
			fourth, err := format(fixtureInventory(), fixtureSubject(), later)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(first, fourth) {
				t.Error("another creation time gave the same document")
			}
		})
	}
}
