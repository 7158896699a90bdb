package sbom

import (
	"errors"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/scan/inventory"
)

func TestInventoryOverThePackageLimitIsRefused(t *testing.T) {
	huge := &inventory.Inventory{Packages: make([]inventory.Package, DefaultMaxPackages+1)}
	small := fixtureOptions()
	small.MaxPackages = 4 // the fixture has five
	for name, format := range formats {
		if _, err := format(huge, fixtureSubject(), fixtureOptions()); !errors.Is(err, errdefs.ErrTooLarge) {
			t.Errorf("%s of %d packages: err = %v, want ErrTooLarge", name, len(huge.Packages), err)
		}
		if _, err := format(fixtureInventory(), fixtureSubject(), small); !errors.Is(err, errdefs.ErrTooLarge) {
			t.Errorf("%s over Options.MaxPackages: err = %v, want ErrTooLarge", name, err)
		}
	}
}

func TestDocumentOverTheByteLimitIsRefused(t *testing.T) {
	for name, format := range formats {
		full, err := format(fixtureInventory(), fixtureSubject(), fixtureOptions())
		if err != nil {
			t.Fatal(err)
		}
		exact := fixtureOptions()
		exact.MaxBytes = int64(len(full))
		if _, err := format(fixtureInventory(), fixtureSubject(), exact); err != nil {
			t.Errorf("%s of exactly MaxBytes: %v", name, err)
		}
		under := fixtureOptions()
		under.MaxBytes = int64(len(full)) - 1
		out, err := format(fixtureInventory(), fixtureSubject(), under)
		if !errors.Is(err, errdefs.ErrTooLarge) || out != nil {
			t.Errorf("%s one byte over MaxBytes: %d bytes, err = %v, want ErrTooLarge", name, len(out), err)
		}
	}
}

func TestInvalidInputIsRefused(t *testing.T) {
	cases := map[string]func(**inventory.Inventory, *Subject, *Options){
		"no inventory":        func(i **inventory.Inventory, _ *Subject, _ *Options) { *i = nil },
		"no repository":       func(_ **inventory.Inventory, s *Subject, _ *Options) { s.Repository = " " },
		"bad digest":          func(_ **inventory.Inventory, s *Subject, _ *Options) { s.Digest = "sha256:xyz" },
		"no creation time":    func(_ **inventory.Inventory, _ *Subject, o *Options) { o.Created = time.Time{} },
		"relative namespace":  func(_ **inventory.Inventory, _ *Subject, o *Options) { o.Namespace = "registry.example/spdx" },
		"namespace with hash": func(_ **inventory.Inventory, _ *Subject, o *Options) { o.Namespace = "https://r.example/spdx#x" },
	}
	for name, mutate := range cases {
		for format, build := range formats {
			inv, s, o := fixtureInventory(), fixtureSubject(), fixtureOptions()
			mutate(&inv, &s, &o)
			if _, err := build(inv, s, o); !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("%s, %s: err = %v, want ErrInvalid", name, format, err)
			}
		}
	}
}
