package pullpolicy

import (
	"encoding/pem"
	"strings"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/scan/signature"
)

// Bounds of a project's signature requirement.
const (
	MaxTrustedKeys = 16
	MaxPEMSize     = 16 << 10
)

// PreventVulnerable is a project's "prevent vulnerable images" setting.
type PreventVulnerable struct {
	Enabled bool
	// Severity is the threshold: CRITICAL, HIGH, MEDIUM or LOW.
	Severity       string
	AllowUnscanned bool
}

// RequireSignature is a project's signature requirement; nil lists stay
// as they are, empty ones clear them.
type RequireSignature struct {
	CosignPublicKeys     []string
	NotationCertificates []string
}

// ApplyPreventVulnerable validates in and sets it on upd.
func ApplyPreventVulnerable(upd *ent.ProjectUpdateOne, in PreventVulnerable) error {
	sev := project.PreventSeverity(in.Severity)
	if err := project.PreventSeverityValidator(sev); err != nil {
		return errdefs.Invalidf("preventVulnerable.severity must be CRITICAL, HIGH, MEDIUM or LOW, not %q", clip(in.Severity, 32))
	}
	upd.SetPreventVulnerable(in.Enabled).SetPreventSeverity(sev).SetAllowUnscanned(in.AllowUnscanned)
	return nil
}

// ApplyRequireSignature validates the keys and certificates of in (each
// must parse) and sets them on upd.
func ApplyRequireSignature(upd *ent.ProjectUpdateOne, in RequireSignature) error {
	if in.CosignPublicKeys != nil {
		keys, err := cleanPEMs("cosignPublicKeys", in.CosignPublicKeys, "PUBLIC KEY")
		if err != nil {
			return err
		}
		if err := signature.ValidatePolicy(signature.Policy{CosignPublicKeys: keys}); err != nil {
			return err
		}
		upd.SetCosignPublicKeys(keys)
	}
	if in.NotationCertificates != nil {
		certs, err := cleanPEMs("notationCertificates", in.NotationCertificates, "CERTIFICATE")
		if err != nil {
			return err
		}
		if err := signature.ValidatePolicy(signature.Policy{NotationCertificates: certs}); err != nil {
			return err
		}
		upd.SetNotationCertificates(certs)
	}
	return nil
}

// cleanPEMs checks that each of list is PEM of kind ("PUBLIC KEY": one
// block; "CERTIFICATE": a chain of one or more), within bounds, and drops
// repeats; the signature package then parses them.
func cleanPEMs(field string, list []string, kind string) ([]string, error) {
	if len(list) > MaxTrustedKeys {
		return nil, errdefs.Invalidf("%s: at most %d entries, not %d", field, MaxTrustedKeys, len(list))
	}
	seen := map[string]bool{}
	out := []string{}
	for i, text := range list {
		if len(text) > MaxPEMSize {
			return nil, errdefs.Invalidf("%s[%d]: larger than %d bytes", field, i, MaxPEMSize)
		}
		text = strings.TrimSpace(text)
		rest := []byte(text)
		for n := 0; len(strings.TrimSpace(string(rest))) > 0; n++ {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil || block.Type != kind {
				return nil, errdefs.Invalidf("%s[%d]: not a PEM %q block", field, i, kind)
			}
			if n > 0 && kind != "CERTIFICATE" {
				return nil, errdefs.Invalidf("%s[%d]: one PEM block per entry", field, i)
			}
		}
		if text == "" {
			return nil, errdefs.Invalidf("%s[%d]: empty", field, i)
		}
		if !seen[text] {
			seen[text] = true
			out = append(out, text+"\n")
		}
	}
	return out, nil
}
