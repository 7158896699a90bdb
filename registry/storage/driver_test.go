package storage_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-registry/berth/registry/storage"
)

func TestValidatePathAcceptsRegistryLayouts(t *testing.T) {
	for _, p := range []string{
		"/",
		"/blobs/sha256/ab/abcdef0123456789/data",
		"/uploads/0b9e5b8e-1c5e-4b7e-9a57-0f1f1f1f1f1f/data",
		"/probes/ABC234",
		"/a_b/c.d/e-f",
		"/" + strings.Repeat("a", 999),
	} {
		if err := storage.ValidatePath(p); err != nil {
			t.Errorf("ValidatePath(%q) = %v, want nil", p, err)
		}
	}
}

func TestValidatePathRejectsEscapesAndOddNames(t *testing.T) {
	for _, p := range []string{
		"", "blobs/x", "./x", "/x/", "//x", "/x//y", "/..", "/x/../y", "/x/.", "/.x",
		"/x/.y.partial", "/x\\y", "/x y", "/x\ny", "/x\x00", "/é", "/" + strings.Repeat("a", 1000),
	} {
		if err := storage.ValidatePath(p); !errors.Is(err, storage.ErrInvalidPath) {
			t.Errorf("ValidatePath(%q) = %v, want ErrInvalidPath", p, err)
		}
	}
}
