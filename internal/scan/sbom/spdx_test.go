package sbom

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

// spdxDoc is the part of an SPDX 2.3 JSON document the tests read, decoded
// independently of the library that wrote it.
type spdxDoc struct {
	SPDXVersion       string `json:"spdxVersion"`
	DataLicense       string `json:"dataLicense"`
	SPDXID            string `json:"SPDXID"`
	Name              string `json:"name"`
	DocumentNamespace string `json:"documentNamespace"`
	CreationInfo      struct {
		Creators []string `json:"creators"`
		Created  string   `json:"created"`
	} `json:"creationInfo"`
	Packages []struct {
		SPDXID           string `json:"SPDXID"`
		Name             string `json:"name"`
		VersionInfo      string `json:"versionInfo"`
		DownloadLocation string `json:"downloadLocation"`
		Supplier         string `json:"supplier"`
		Originator       string `json:"originator"`
		LicenseConcluded string `json:"licenseConcluded"`
		LicenseDeclared  string `json:"licenseDeclared"`
		FilesAnalyzed    *bool  `json:"filesAnalyzed"`
		SourceInfo       string `json:"sourceInfo"`
		Purpose          string `json:"primaryPackagePurpose"`
		ExternalRefs     []struct {
			Category string `json:"referenceCategory"`
			Type     string `json:"referenceType"`
			Locator  string `json:"referenceLocator"`
		} `json:"externalRefs"`
		Annotations []struct {
			Annotator string `json:"annotator"`
			Type      string `json:"annotationType"`
			Comment   string `json:"comment"`
		} `json:"annotations"`
	} `json:"packages"`
	Relationships []struct {
		A    string `json:"spdxElementId"`
		Type string `json:"relationshipType"`
		B    string `json:"relatedSpdxElement"`
	} `json:"relationships"`
}

func decodeSPDX(t *testing.T, b []byte) spdxDoc {
	t.Helper()
	var d spdxDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("SPDX output is not JSON: %v", err)
	}
	return d
}

var spdxIDPattern = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)

func TestSPDXIsAnSPDX23DocumentDescribingTheImage(t *testing.T) {
	out, err := SPDX(fixtureInventory(), fixtureSubject(), fixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	d := decodeSPDX(t, out)

	if d.SPDXVersion != "SPDX-2.3" || d.DataLicense != "CC0-1.0" || d.SPDXID != "SPDXRef-DOCUMENT" {
		t.Errorf("header = %q %q %q", d.SPDXVersion, d.DataLicense, d.SPDXID)
	}
	if !slices.Contains(d.CreationInfo.Creators, "Tool: berth-1.4.0") {
		t.Errorf("creators = %q, want Tool: berth-1.4.0", d.CreationInfo.Creators)
	}
	if d.CreationInfo.Created != "2026-03-01T12:30:45Z" {
		t.Errorf("created = %q", d.CreationInfo.Created)
	}
	if !strings.HasPrefix(d.DocumentNamespace, "https://registry.example/spdx/") || !strings.Contains(d.DocumentNamespace, imageDigest) {
		t.Errorf("documentNamespace = %q, want under the base and naming the image digest", d.DocumentNamespace)
	}

	// The image, the OS and the five packages.
	if len(d.Packages) != 7 {
		t.Fatalf("got %d packages, want 7", len(d.Packages))
	}
	ids := map[string]bool{}
	for _, p := range d.Packages {
		if !spdxIDPattern.MatchString(p.SPDXID) || p.Name == "" || p.DownloadLocation == "" {
			t.Errorf("package %+v lacks a valid SPDXID, name or downloadLocation", p)
		}
		if ids[p.SPDXID] {
			t.Errorf("SPDXID %s used twice", p.SPDXID)
		}
		ids[p.SPDXID] = true
		if p.Supplier != "NOASSERTION" || p.Originator != "NOASSERTION" || p.LicenseConcluded != "NOASSERTION" || p.LicenseDeclared != "NOASSERTION" {
			t.Errorf("package %s: supplier/originator/licenses = %q %q %q %q, want NOASSERTION", p.Name, p.Supplier, p.Originator, p.LicenseConcluded, p.LicenseDeclared)
		}
		if p.FilesAnalyzed == nil || *p.FilesAnalyzed {
			t.Errorf("package %s: filesAnalyzed must be present and false (no files are listed)", p.Name)
		}
	}
	image := d.Packages[0]
	if image.SPDXID != "SPDXRef-Image" || image.Name != "registry.example/library/app" || image.VersionInfo != imageDigest || image.Purpose != "CONTAINER" {
		t.Errorf("image package = %+v", image)
	}
	if len(image.ExternalRefs) != 2 || !strings.HasPrefix(image.ExternalRefs[0].Locator, "pkg:oci/app@sha256:") ||
		!strings.Contains(image.ExternalRefs[0].Locator, "tag=1.0") || !strings.Contains(image.ExternalRefs[1].Locator, "tag=latest") {
		t.Errorf("image PURLs = %+v, want one pkg:oci PURL per tag", image.ExternalRefs)
	}
	if os := d.Packages[1]; os.Name != "debian" || os.VersionInfo != "12" || os.Purpose != "OPERATING_SYSTEM" {
		t.Errorf("OS package = %+v", os)
	}

	// DOCUMENT DESCRIBES the image, which CONTAINS every other package.
	var describes, contains []string
	for _, r := range d.Relationships {
		switch {
		case r.Type == "DESCRIBES" && r.A == "SPDXRef-DOCUMENT":
			describes = append(describes, r.B)
		case r.Type == "CONTAINS" && r.A == "SPDXRef-Image":
			contains = append(contains, r.B)
		default:
			t.Errorf("unexpected relationship %+v", r)
		}
	}
	if !slices.Equal(describes, []string{"SPDXRef-Image"}) {
		t.Errorf("DESCRIBES %q, want the image only", describes)
	}
	for _, p := range d.Packages[1:] {
		if !slices.Contains(contains, p.SPDXID) {
			t.Errorf("the image does not CONTAIN %s", p.SPDXID)
		}
	}
	if len(contains) != len(d.Packages)-1 {
		t.Errorf("%d CONTAINS relationships, want %d", len(contains), len(d.Packages)-1)
	}
}

func TestSPDXPackagesCarryPURLLayerSourceAndLocations(t *testing.T) {
	out, err := SPDX(fixtureInventory(), fixtureSubject(), fixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	d := decodeSPDX(t, out)
	for i, p := range d.Packages {
		byName[p.Name] = i
	}
	for _, want := range fixtureInventory().Packages {
		i, ok := byName[want.Name]
		if !ok {
			t.Errorf("package %s missing", want.Name)
			continue
		}
		p := d.Packages[i]
		if p.VersionInfo != want.Version {
			t.Errorf("%s: versionInfo = %q, want %q", want.Name, p.VersionInfo, want.Version)
		}
		if len(p.ExternalRefs) != 1 || p.ExternalRefs[0].Category != "PACKAGE-MANAGER" || p.ExternalRefs[0].Type != "purl" || p.ExternalRefs[0].Locator != want.PURL {
			t.Errorf("%s: externalRefs = %+v, want PACKAGE-MANAGER purl %s", want.Name, p.ExternalRefs, want.PURL)
		}
		if len(p.Annotations) != 1 || p.Annotations[0].Comment != "berth:layer="+want.LayerDigest ||
			p.Annotations[0].Type != "OTHER" || p.Annotations[0].Annotator != "Tool: berth-1.4.0" {
			t.Errorf("%s: annotations = %+v, want the layer %s", want.Name, p.Annotations, want.LayerDigest)
		}
		if !strings.Contains(p.SourceInfo, want.LayerDigest) || !strings.Contains(p.SourceInfo, want.Locations[0]) {
			t.Errorf("%s: sourceInfo %q lacks the layer or the location", want.Name, p.SourceInfo)
		}
		if want.SourceName != "" && !strings.Contains(p.SourceInfo, "source package "+want.SourceName+" "+want.SourceVersion) {
			t.Errorf("%s: sourceInfo %q lacks the source package", want.Name, p.SourceInfo)
		}
	}
}

func TestSPDXRoundTripsThroughTheSPDXLibrary(t *testing.T) {
	out, err := SPDX(fixtureInventory(), fixtureSubject(), fixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("the SPDX library cannot read the document: %v", err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Errorf("spdxlib: %v", err)
	}
	described, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(described) != 1 || described[0] != "Image" {
		t.Errorf("described packages = %v, %v; want [Image]", described, err)
	}
	var again bytes.Buffer
	if err := spdxjson.Write(doc, &again, spdxjson.EscapeHTML(false)); err != nil {
		t.Fatal(err)
	}
	if got := bytes.TrimSuffix(again.Bytes(), []byte("\n")); !bytes.Equal(got, out) {
		t.Errorf("read and written again, the document changed:\n%s\nwant\n%s", got, out)
	}
}

func TestSPDXNamespaceIsUniquePerImageAndDocument(t *testing.T) {
	ns := func(mutate func(*Subject, *Options)) string {
		s, o := fixtureSubject(), fixtureOptions()
		mutate(&s, &o)
		out, err := SPDX(fixtureInventory(), s, o)
		if err != nil {
			t.Fatal(err)
		}
		return decodeSPDX(t, out).DocumentNamespace
	}
	base := ns(func(*Subject, *Options) {})
	if again := ns(func(*Subject, *Options) {}); again != base {
		t.Errorf("same input, namespaces %q and %q", base, again)
	}
	other := "sha256:" + strings.Repeat("ab", 32)
	cases := map[string]func(*Subject, *Options){
		"another digest":       func(s *Subject, _ *Options) { s.Digest = other },
		"another creation":     func(_ *Subject, o *Options) { o.Created = o.Created.Add(1e9) },
		"another tool version": func(_ *Subject, o *Options) { o.ToolVersion = "1.5.0" },
	}
	for name, mutate := range cases {
		if got := ns(mutate); got == base {
			t.Errorf("%s: namespace unchanged %q", name, got)
		}
	}
	if got := ns(cases["another digest"]); !strings.Contains(got, other) {
		t.Errorf("namespace %q does not name digest %s", got, other)
	}
	if got := ns(func(_ *Subject, o *Options) { o.Namespace = "" }); !strings.HasPrefix(got, DefaultNamespace+"/") {
		t.Errorf("default namespace %q not under %s", got, DefaultNamespace)
	}
}
