package sbom

import (
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/scan/inventory"
)

// cdxSchema is the JSON schema of the CycloneDX version written.
const cdxSchema = "http://cyclonedx.org/schema/bom-1.5.schema.json"

// Property names berth writes on components.
const (
	propLayer         = "berth:layer"
	propLocation      = "berth:location"
	propSourceName    = "berth:source:name"
	propSourceVersion = "berth:source:version"
	propEcosystem     = "berth:ecosystem"
	propTag           = "berth:tag"
	propPlatform      = "berth:platform"
	propMediaType     = "berth:mediaType"
	propWarning       = "berth:warning"
)

// cdxImageRef is the bom-ref of the image component.
const cdxImageRef = "Image"

// CycloneDX returns a CycloneDX 1.5 JSON document for the image described
// by subject and the packages inv found in it.
//
// metadata.component is the image (type container, with its pkg:oci PURL
// and the manifest digest as its SHA-256 hash); the components are the
// operating system, when one was identified, and every inventory package
// (type library) with its PURL and properties berth:layer (the layer that
// added it), berth:location (each file it was read from), berth:source:name
// and berth:source:version (its OS source package) and berth:ecosystem.
// Supplier and licenses are left out: the inventory knows neither, and
// CycloneDX has no NOASSERTION.
func CycloneDX(inv *inventory.Inventory, subject Subject, opts Options) ([]byte, error) {
	if err := check(inv, subject, opts); err != nil {
		return nil, err
	}
	components := make([]cdx.Component, 0, len(inv.Packages)+1)
	if inv.OS.ID != "" {
		components = append(components, cdx.Component{
			BOMRef:      "OperatingSystem-" + sanitizeID(inv.OS.ID, maxNameInID) + "-" + sanitizeID(inv.OS.VersionID, maxNameInID),
			Type:        cdx.ComponentTypeOS,
			Name:        inv.OS.ID,
			Version:     inv.OS.VersionID,
			Description: inv.OS.PrettyName,
		})
	}
	for _, el := range elements(inv.Packages) {
		components = append(components, cdxPackage(el))
	}

	metadata := &cdx.Metadata{
		Timestamp: opts.timestamp(),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type:    cdx.ComponentTypeApplication,
			Name:    toolName,
			Version: opts.toolVersion(),
		}}},
		Component: cdxImage(subject),
	}
	if len(inv.Warnings) > 0 {
		props := make([]cdx.Property, 0, len(inv.Warnings))
		for _, w := range inv.Warnings {
			props = append(props, cdx.Property{Name: propWarning, Value: w})
		}
		metadata.Properties = &props
	}
	bom := &cdx.BOM{
		JSONSchema:   cdxSchema,
		BOMFormat:    cdx.BOMFormat,
		SpecVersion:  cdx.SpecVersion1_5,
		SerialNumber: "urn:uuid:" + documentUUID("cyclonedx", subject, opts).String(),
		Version:      1,
		Metadata:     metadata,
		Components:   &components,
	}
	// Encode, not EncodeVersion: the BOM is built for 1.5 already, and
	// EncodeVersion deep-copies it through gob first.
	return encodeBounded(opts, func(w *boundedBuffer) error {
		return cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetEscapeHTML(false).Encode(bom)
	})
}

func cdxImage(subject Subject) *cdx.Component {
	c := &cdx.Component{
		BOMRef:     cdxImageRef,
		Type:       cdx.ComponentTypeContainer,
		Name:       subject.Repository,
		Version:    subject.Digest,
		PackageURL: imagePURLs(subject)[0],
	}
	if d := digest.Digest(subject.Digest); d.Algorithm() == digest.SHA256 {
		c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: d.Encoded()}}
	}
	var props []cdx.Property
	for _, tag := range sortedTags(subject) {
		props = append(props, cdx.Property{Name: propTag, Value: tag})
	}
	if subject.Platform != "" {
		props = append(props, cdx.Property{Name: propPlatform, Value: subject.Platform})
	}
	if subject.MediaType != "" {
		props = append(props, cdx.Property{Name: propMediaType, Value: subject.MediaType})
	}
	if len(props) > 0 {
		c.Properties = &props
	}
	return c
}

func cdxPackage(el element) cdx.Component {
	pkg := el.pkg
	var props []cdx.Property
	add := func(name, value string) {
		if strings.TrimSpace(value) != "" {
			props = append(props, cdx.Property{Name: name, Value: value})
		}
	}
	add(propLayer, pkg.LayerDigest)
	for _, loc := range pkg.Locations {
		add(propLocation, loc)
	}
	add(propSourceName, pkg.SourceName)
	add(propSourceVersion, pkg.SourceVersion)
	add(propEcosystem, pkg.Ecosystem)
	c := cdx.Component{
		BOMRef:     el.id,
		Type:       cdx.ComponentTypeLibrary,
		Name:       pkg.Name,
		Version:    pkg.Version,
		PackageURL: pkg.PURL,
	}
	if len(props) > 0 {
		c.Properties = &props
	}
	return c
}
