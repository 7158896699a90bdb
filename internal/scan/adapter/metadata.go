package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Bounds of an adapter's metadata.
const (
	maxCapabilities = 64
	maxMIMETypes    = 64
	maxProperties   = 256
	maxShortText    = 256
	maxPropertyText = 4096
)

// Capability types (spec v1.2; a capability without a type is a
// vulnerability scan, as in v1.1).
const (
	CapabilityVulnerability = "vulnerability"
	CapabilitySBOM          = "sbom"
)

// opMetadata names the metadata operation in errors.
const opMetadata = "metadata"

// Scanner is the scanner behind an adapter.
type Scanner struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

// Capability is one kind of scan an adapter makes: the artifact types it
// consumes and the report types it produces for them.
type Capability struct {
	// Type is "vulnerability", "sbom" (spec v1.2), or empty (v1.1: a
	// vulnerability scan).
	Type              string   `json:"type,omitempty"`
	ConsumesMIMETypes []string `json:"consumes_mime_types"`
	ProducesMIMETypes []string `json:"produces_mime_types"`
}

// Metadata is what an adapter says about itself.
type Metadata struct {
	Scanner      Scanner      `json:"scanner"`
	Capabilities []Capability `json:"capabilities"`
	// Properties are the adapter's own ("harbor.scanner-adapter/
	// vulnerability-database-updated-at", "env.SCANNER_TRIVY_SEVERITY").
	Properties map[string]string `json:"properties,omitempty"`
}

// Metadata asks the adapter for its metadata and checks it: a scanner
// name and at least one capability, within bounds. Registering an adapter
// should call it, and check ReportMIMEType for the artifact types berth
// will send.
func (c *Client) Metadata(ctx context.Context) (*Metadata, error) {
	resp, err := c.do(ctx, opMetadata, http.MethodGet, "/metadata", nil,
		"Accept", MIMEMetadata+", "+MIMEMetadataV1_1)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, c.statusError(opMetadata, resp)
	}
	defer drain(resp)
	if err := checkContentType(resp.Header.Get("Content-Type"), false, MIMEMetadata); err != nil {
		return nil, c.badAnswer(opMetadata, resp.StatusCode, err, 0)
	}
	body, err := readBody(resp, c.opts.MaxMetadataSize)
	if err != nil {
		return nil, c.badAnswer(opMetadata, resp.StatusCode, err, c.opts.MaxMetadataSize)
	}
	var m Metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, c.badAnswer(opMetadata, resp.StatusCode, err, 0)
	}
	if err := m.check(); err != nil {
		return nil, c.badAnswer(opMetadata, resp.StatusCode, err, 0)
	}
	return &m, nil
}

// check checks the metadata's required fields and bounds.
func (m *Metadata) check() error {
	m.Scanner.Name = strings.TrimSpace(m.Scanner.Name)
	switch {
	case m.Scanner.Name == "":
		return errors.New("the metadata names no scanner")
	case len(m.Scanner.Name) > maxShortText || len(m.Scanner.Vendor) > maxShortText || len(m.Scanner.Version) > maxShortText:
		return fmt.Errorf("the scanner's name, vendor and version must each be at most %d bytes", maxShortText)
	case len(m.Capabilities) == 0:
		return errors.New("the metadata lists no capabilities")
	case len(m.Capabilities) > maxCapabilities:
		return fmt.Errorf("the metadata lists %d capabilities, more than %d", len(m.Capabilities), maxCapabilities)
	case len(m.Properties) > maxProperties:
		return fmt.Errorf("the metadata has %d properties, more than %d", len(m.Properties), maxProperties)
	}
	m.Scanner.Name = printable(m.Scanner.Name, maxShortText)
	m.Scanner.Vendor = printable(m.Scanner.Vendor, maxShortText)
	m.Scanner.Version = printable(m.Scanner.Version, maxShortText)
	for i, cp := range m.Capabilities {
		switch {
		case len(cp.Type) > maxShortText:
			return fmt.Errorf("capability %d: its type is longer than %d bytes", i, maxShortText)
		case len(cp.ConsumesMIMETypes) == 0 || len(cp.ProducesMIMETypes) == 0:
			return fmt.Errorf("capability %d: it must list the types it consumes and produces", i)
		case len(cp.ConsumesMIMETypes) > maxMIMETypes || len(cp.ProducesMIMETypes) > maxMIMETypes:
			return fmt.Errorf("capability %d: more than %d types", i, maxMIMETypes)
		}
		for _, t := range slices.Concat(cp.ConsumesMIMETypes, cp.ProducesMIMETypes) {
			if len(t) > maxShortText {
				return fmt.Errorf("capability %d: a media type is longer than %d bytes", i, maxShortText)
			}
		}
	}
	for k, v := range m.Properties {
		if len(k) > maxShortText || len(v) > maxPropertyText {
			return fmt.Errorf("property %q: the key must be at most %d bytes and the value %d", clip(k, 64), maxShortText, maxPropertyText)
		}
	}
	return nil
}

// ReportMIMEType returns the vulnerability report type to ask this
// adapter for about artifacts of type artifactMIME (MIMEOCIManifest,
// MIMEDockerManifest), the v1.1 report rather than the v1.0 one; false
// when no vulnerability capability consumes that type and produces a
// report berth reads.
func (m *Metadata) ReportMIMEType(artifactMIME string) (string, bool) {
	best := ""
	for _, cp := range m.Capabilities {
		if cp.Type != "" && cp.Type != CapabilityVulnerability {
			continue
		}
		consumes := false
		for _, t := range cp.ConsumesMIMETypes {
			consumes = consumes || sameMediaType(t, artifactMIME, false)
		}
		if !consumes {
			continue
		}
		for _, t := range cp.ProducesMIMETypes {
			switch {
			case sameMediaType(t, MIMEVulnerabilityReport, true):
				return MIMEVulnerabilityReport, true
			case sameMediaType(t, MIMEHarborVulnerabilityReport, true):
				best = MIMEHarborVulnerabilityReport
			}
		}
	}
	return best, best != ""
}
