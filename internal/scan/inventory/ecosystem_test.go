package inventory

import (
	"testing"

	"github.com/google/osv-scalibr/extractor"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
)

// TestRPMPackagesCarryTheirEpochAndRockyItsRelease: what matching needs of
// an rpm package that scalibr leaves out of Version and Ecosystem.
func TestRPMPackagesCarryTheirEpochAndRockyItsRelease(t *testing.T) {
	for _, tc := range []struct {
		osID, versionID, want string
	}{
		{"rocky", "9.2", "Rocky Linux:9"},
		{"almalinux", "9.4", "AlmaLinux:9"},
	} {
		p := convert(&extractor.Package{Name: "openssl", Version: "3.0.7-27.el9", PURLType: "rpm",
			Metadata: &rpmmeta.Metadata{PackageName: "openssl", Epoch: 1, OSID: tc.osID, OSVersionID: tc.versionID}})
		if p.Ecosystem != tc.want || p.Epoch != 1 {
			t.Errorf("%s %s: ecosystem %q epoch %d, want %q and 1", tc.osID, tc.versionID, p.Ecosystem, p.Epoch, tc.want)
		}
	}
}
