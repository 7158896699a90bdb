package sbom

import (
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/berth-registry/berth/internal/scan/inventory"
)

// noAssertion is SPDX's value for what the document does not state.
const noAssertion = "NOASSERTION"

// Element identifiers (without the "SPDXRef-" prefix the library adds).
const (
	spdxDocumentID = common.ElementID("DOCUMENT")
	spdxImageID    = common.ElementID("Image")
)

// SPDX returns an SPDX 2.3 JSON document for the image described by subject
// and the packages inv found in it.
//
// The document DESCRIBES one package for the image (purpose CONTAINER, with
// pkg:oci PURLs and the manifest digest as its SHA256 checksum), which
// CONTAINS the operating system, when one was identified, and every
// inventory package. A package carries its PURL as a PACKAGE-MANAGER purl
// reference, NOASSERTION for supplier, originator, download location,
// licenses and copyright (the inventory knows none of them), its source
// package and the files it was read from in sourceInfo, and its layer as an
// annotation "berth:layer=<digest>".
func SPDX(inv *inventory.Inventory, subject Subject, opts Options) ([]byte, error) {
	if err := check(inv, subject, opts); err != nil {
		return nil, err
	}
	created := opts.timestamp()
	tool := common.Creator{CreatorType: "Tool", Creator: toolName + "-" + opts.toolVersion()}

	image := spdxImage(subject, opts)
	packages := []*spdx.Package{image}
	relationships := []*spdx.Relationship{relate(spdxDocumentID, common.TypeRelationshipDescribe, spdxImageID)}
	if osPkg := spdxOS(inv.OS); osPkg != nil {
		packages = append(packages, osPkg)
		relationships = append(relationships, relate(spdxImageID, common.TypeRelationshipContains, osPkg.PackageSPDXIdentifier))
	}
	for _, el := range elements(inv.Packages) {
		p := spdxPackage(el, spdx.Annotation{
			Annotator:      common.Annotator{AnnotatorType: tool.CreatorType, Annotator: tool.Creator},
			AnnotationDate: created,
			AnnotationType: "OTHER",
		})
		packages = append(packages, p)
		relationships = append(relationships, relate(spdxImageID, common.TypeRelationshipContains, p.PackageSPDXIdentifier))
	}

	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    spdxDocumentID,
		DocumentName:      subject.Repository + "@" + subject.Digest,
		DocumentNamespace: spdxNamespace(subject, opts),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{tool},
			Created:  created,
		},
		Packages:      packages,
		Relationships: relationships,
	}
	if len(inv.Warnings) > 0 {
		doc.DocumentComment = "The scan could not read: " + strings.Join(inv.Warnings, "; ")
	}
	return encodeBounded(opts, func(w *boundedBuffer) error {
		return spdxjson.Write(doc, w, spdxjson.EscapeHTML(false))
	})
}

// spdxNamespace is <base>/<repository>/<digest>-<uuid>: unique per image
// digest, and per document of that image through the name-based UUID.
func spdxNamespace(subject Subject, opts Options) string {
	base := opts.Namespace
	if base == "" {
		base = DefaultNamespace
	}
	doc := subject.Digest + "-" + documentUUID("spdx", subject, opts).String()
	repo := strings.Trim(subject.Repository, "/")
	ns, err := url.JoinPath(base, append(strings.Split(repo, "/"), doc)...)
	if err != nil { // check already parsed base
		return strings.TrimSuffix(base, "/") + "/" + url.PathEscape(repo) + "/" + doc
	}
	return ns
}

func relate(a common.ElementID, rel string, b common.ElementID) *spdx.Relationship {
	return &spdx.Relationship{
		RefA:         common.DocElementID{ElementRefID: a},
		RefB:         common.DocElementID{ElementRefID: b},
		Relationship: rel,
	}
}

// spdxUnknown sets the fields the inventory cannot know to NOASSERTION.
func spdxUnknown(p *spdx.Package) *spdx.Package {
	p.PackageSupplier = &common.Supplier{Supplier: noAssertion}
	p.PackageOriginator = &common.Originator{Originator: noAssertion}
	p.PackageDownloadLocation = noAssertion
	p.PackageLicenseConcluded = noAssertion
	p.PackageLicenseDeclared = noAssertion
	p.PackageCopyrightText = noAssertion
	// The packages' files are not listed, so no verification code.
	p.FilesAnalyzed = false
	p.IsFilesAnalyzedTagPresent = true
	return p
}

func purlRef(purl string) *spdx.PackageExternalReference {
	return &spdx.PackageExternalReference{
		Category: common.CategoryPackageManager,
		RefType:  "purl",
		Locator:  purl,
	}
}

func spdxImage(subject Subject, opts Options) *spdx.Package {
	p := spdxUnknown(&spdx.Package{
		PackageName:           subject.Repository,
		PackageSPDXIdentifier: spdxImageID,
		PackageVersion:        subject.Digest,
		PrimaryPackagePurpose: "CONTAINER",
	})
	if d := digest.Digest(subject.Digest); d.Algorithm() == digest.SHA256 {
		p.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: d.Encoded()}}
	}
	for _, purl := range imagePURLs(subject) {
		p.PackageExternalReferences = append(p.PackageExternalReferences, purlRef(purl))
	}
	var info []string
	if subject.MediaType != "" {
		info = append(info, "manifest media type "+subject.MediaType)
	}
	if subject.Platform != "" {
		info = append(info, "platform "+subject.Platform)
	}
	if tags := sortedTags(subject); len(tags) > 0 {
		info = append(info, "tags "+strings.Join(tags, ", "))
	}
	p.PackageComment = strings.Join(info, "; ")
	return p
}

// spdxOS is the operating system package, nil when the scan found none.
func spdxOS(rel inventory.OSRelease) *spdx.Package {
	if rel.ID == "" {
		return nil
	}
	return spdxUnknown(&spdx.Package{
		PackageName:           rel.ID,
		PackageSPDXIdentifier: common.ElementID("OperatingSystem-" + sanitizeID(rel.ID, maxNameInID) + "-" + sanitizeID(rel.VersionID, maxNameInID)),
		PackageVersion:        rel.VersionID,
		PackageDescription:    rel.PrettyName,
		PrimaryPackagePurpose: "OPERATING_SYSTEM",
	})
}

// spdxPackage is one inventory package; note is the annotation to carry its
// layer.
func spdxPackage(el element, note spdx.Annotation) *spdx.Package {
	pkg := el.pkg
	p := spdxUnknown(&spdx.Package{
		PackageName:           pkg.Name,
		PackageSPDXIdentifier: common.ElementID(el.id),
		PackageVersion:        pkg.Version,
	})
	if pkg.PURL != "" {
		p.PackageExternalReferences = []*spdx.PackageExternalReference{purlRef(pkg.PURL)}
	}
	var info []string
	if pkg.SourceName != "" {
		src := "built from source package " + pkg.SourceName
		if pkg.SourceVersion != "" {
			src += " " + pkg.SourceVersion
		}
		info = append(info, src)
	}
	if pkg.LayerDigest != "" {
		info = append(info, "added by layer "+pkg.LayerDigest)
		note.AnnotationComment = "berth:layer=" + pkg.LayerDigest
		p.Annotations = []spdx.Annotation{note}
	}
	if len(pkg.Locations) > 0 {
		info = append(info, "found in "+strings.Join(pkg.Locations, ", "))
	}
	p.PackageSourceInfo = strings.Join(info, "; ")
	return p
}
