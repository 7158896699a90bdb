package sbom

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

func decodeCycloneDX(t *testing.T, b []byte) *cdx.BOM {
	t.Helper()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("cyclonedx-go cannot decode the document: %v", err)
	}
	return &bom
}

// properties lists the values of the component's properties named name.
func properties(c cdx.Component, name string) []string {
	var out []string
	if c.Properties != nil {
		for _, p := range *c.Properties {
			if p.Name == name {
				out = append(out, p.Value)
			}
		}
	}
	return out
}

func TestCycloneDXValidatesAgainstTheCycloneDX15Schema(t *testing.T) {
	out, err := CycloneDX(fixtureInventory(), fixtureSubject(), fixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	validateJSONSchema(t, out, "http://cyclonedx.org/schema/bom-1.5.schema.json", cycloneDXSchemas(t))
}

func TestCycloneDXIsA15BOMOfTheImage(t *testing.T) {
	out, err := CycloneDX(fixtureInventory(), fixtureSubject(), fixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		BOMFormat, SpecVersion, SerialNumber string
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.BOMFormat != "CycloneDX" || raw.SpecVersion != "1.5" {
		t.Errorf("bomFormat, specVersion = %q, %q", raw.BOMFormat, raw.SpecVersion)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(raw.SerialNumber) {
		t.Errorf("serialNumber = %q, want urn:uuid:…", raw.SerialNumber)
	}

	bom := decodeCycloneDX(t, out)
	if bom.SpecVersion != cdx.SpecVersion1_5 || bom.Metadata == nil || bom.Metadata.Component == nil {
		t.Fatalf("decoded BOM: spec %v, metadata %+v", bom.SpecVersion, bom.Metadata)
	}
	if bom.Metadata.Timestamp != "2026-03-01T12:30:45Z" {
		t.Errorf("timestamp = %q", bom.Metadata.Timestamp)
	}
	if tools := bom.Metadata.Tools; tools == nil || tools.Components == nil || len(*tools.Components) != 1 ||
		(*tools.Components)[0].Name != "berth" || (*tools.Components)[0].Version != "1.4.0" {
		t.Errorf("tools = %+v, want berth 1.4.0", bom.Metadata.Tools)
	}
	image := *bom.Metadata.Component
	if image.Type != cdx.ComponentTypeContainer || image.Name != "registry.example/library/app" || image.Version != imageDigest ||
		!strings.HasPrefix(image.PackageURL, "pkg:oci/app@sha256:") {
		t.Errorf("metadata.component = %+v, want the image", image)
	}
	if tags := properties(image, "berth:tag"); !slices.Equal(tags, []string{"1.0", "latest"}) {
		t.Errorf("image tags = %q", tags)
	}
	if image.Hashes == nil || (*image.Hashes)[0].Value != strings.TrimPrefix(imageDigest, "sha256:") {
		t.Errorf("image hashes = %+v", image.Hashes)
	}

	if bom.Components == nil || len(*bom.Components) != 6 {
		t.Fatalf("components = %+v, want the OS and five packages", bom.Components)
	}
	comps := *bom.Components
	if comps[0].Type != cdx.ComponentTypeOS || comps[0].Name != "debian" || comps[0].Version != "12" {
		t.Errorf("first component = %+v, want the OS", comps[0])
	}
	byPURL := map[string]cdx.Component{}
	refs := map[string]bool{}
	for _, c := range comps {
		byPURL[c.PackageURL] = c
		if c.BOMRef == "" || refs[c.BOMRef] {
			t.Errorf("bom-ref %q empty or used twice", c.BOMRef)
		}
		refs[c.BOMRef] = true
	}
	for _, want := range fixtureInventory().Packages {
		c, ok := byPURL[want.PURL]
		if !ok {
			t.Errorf("no component with purl %s", want.PURL)
			continue
		}
		if c.Name != want.Name || c.Version != want.Version || c.Type != cdx.ComponentTypeLibrary {
			t.Errorf("component %+v, want %s %s", c, want.Name, want.Version)
		}
		if got := properties(c, "berth:layer"); !slices.Equal(got, []string{want.LayerDigest}) {
			t.Errorf("%s: berth:layer = %q, want %s", want.Name, got, want.LayerDigest)
		}
		if got := properties(c, "berth:location"); !slices.Equal(got, want.Locations) {
			t.Errorf("%s: berth:location = %q, want %q", want.Name, got, want.Locations)
		}
		if want.SourceName != "" {
			if got := properties(c, "berth:source:name"); !slices.Equal(got, []string{want.SourceName}) {
				t.Errorf("%s: berth:source:name = %q", want.Name, got)
			}
		}
	}
	if bom.Metadata.Properties == nil || len(*bom.Metadata.Properties) != 1 {
		t.Errorf("metadata properties = %+v, want the inventory's warning", bom.Metadata.Properties)
	}
}

func TestCycloneDXRoundTripsThroughCycloneDXGo(t *testing.T) {
	out, err := CycloneDX(fixtureInventory(), fixtureSubject(), fixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	bom := decodeCycloneDX(t, out)
	var again bytes.Buffer
	if err := cdx.NewBOMEncoder(&again, cdx.BOMFileFormatJSON).SetEscapeHTML(false).Encode(bom); err != nil {
		t.Fatal(err)
	}
	if got := bytes.TrimSuffix(again.Bytes(), []byte("\n")); !bytes.Equal(got, out) {
		t.Errorf("decoded and encoded again, the document changed:\n%s\nwant\n%s", got, out)
	}
}
