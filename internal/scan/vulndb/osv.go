package vulndb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berth-registry/berth/ent/schema/osvrange"
)

// Bounds of what an import accepts and keeps.
const (
	// MaxRecordSize bounds one OSV JSON record, in a file or a zip entry.
	MaxRecordSize = 4 << 20
	// MaxArchiveSize bounds an all.zip export.
	MaxArchiveSize = 2 << 30
	// MaxArchiveEntries bounds the files of one zip.
	MaxArchiveEntries = 1 << 20
	// MaxSummary and MaxDetails bound the text kept of a record; longer
	// text is cut at a character boundary.
	MaxSummary = 1024
	MaxDetails = 16 << 10
	// maxIDLen, maxEcosystemLen and maxNameLen bound identifiers; a record
	// with a longer one is refused.
	maxIDLen        = 128
	maxEcosystemLen = 128
	maxNameLen      = 512
	// maxReferences and maxAliases bound the lists kept of a record.
	maxReferences = 64
	maxAliases    = 64
	maxURLLen     = 2048
)

// osvRecord is the part of the OSV schema (ossf.github.io/osv-schema)
// berth reads.
type osvRecord struct {
	ID               string          `json:"id"`
	Modified         time.Time       `json:"modified"`
	Published        *time.Time      `json:"published"`
	Withdrawn        *time.Time      `json:"withdrawn"`
	Aliases          []string        `json:"aliases"`
	Summary          string          `json:"summary"`
	Details          string          `json:"details"`
	Severity         []osvSeverity   `json:"severity"`
	Affected         []osvAffected   `json:"affected"`
	References       []osvReference  `json:"references"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Severity          []osvSeverity    `json:"severity"`
	Ranges            []osvrange.Range `json:"ranges"`
	Versions          []string         `json:"versions"`
	EcosystemSpecific json.RawMessage  `json:"ecosystem_specific"`
	DatabaseSpecific  json.RawMessage  `json:"database_specific"`
}

type osvReference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// decodeRecord reads one OSV record of at most MaxRecordSize bytes.
func decodeRecord(r io.Reader) (*osvRecord, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxRecordSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxRecordSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxRecordSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var rec osvRecord
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("not an OSV JSON record: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not an OSV JSON record: data after the record")
	}
	if err := rec.check(); err != nil {
		return nil, err
	}
	return &rec, nil
}

func (r *osvRecord) check() error {
	switch {
	case r.ID == "":
		return errors.New("the record has no id")
	case len(r.ID) > maxIDLen:
		return fmt.Errorf("id longer than %d bytes", maxIDLen)
	case r.Modified.IsZero():
		return fmt.Errorf("%s has no modified time", r.ID)
	}
	if strings.ContainsRune(r.ID, 0) {
		return errors.New("the record's id has a NUL character")
	}
	for _, a := range r.Affected {
		if len(a.Package.Ecosystem) > maxEcosystemLen || len(a.Package.Name) > maxNameLen {
			return fmt.Errorf("%s: affected package %.64q in %.64q: name or ecosystem too long", r.ID, a.Package.Name, a.Package.Ecosystem)
		}
		// Versions are stored as they are; PostgreSQL refuses NUL in them.
		fields := append([]string{a.Package.Ecosystem, a.Package.Name}, a.Versions...)
		for _, rg := range a.Ranges {
			for _, e := range rg.Events {
				fields = append(fields, e.Introduced, e.Fixed, e.LastAffected, e.Limit)
			}
		}
		for _, f := range fields {
			if strings.ContainsRune(f, 0) {
				return fmt.Errorf("%s: affected package %.64q: a NUL character in a name or version", r.ID, a.Package.Name)
			}
		}
	}
	return nil
}

// ecosystemBase is an ecosystem without its release: "Debian:12" is
// "Debian", "Ubuntu:22.04:LTS" is "Ubuntu".
func ecosystemBase(ecosystem string) string {
	base, _, _ := strings.Cut(ecosystem, ":")
	return base
}

var pypiSeparators = regexp.MustCompile(`[-_.]+`)

// nameKey is a package name as matching compares it: PyPI names are
// normalized as PEP 503 says (case and runs of "-", "_", "." fold); the
// other ecosystems' names are compared as written.
func nameKey(ecosystem, name string) string {
	name = strings.TrimSpace(name)
	if ecosystemBase(ecosystem) == "PyPI" {
		return pypiSeparators.ReplaceAllString(strings.ToLower(name), "-")
	}
	return name
}

// cut shortens s to at most n bytes without splitting a character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// text is s without NUL characters, which PostgreSQL text and jsonb refuse,
// cut to n bytes.
func text(s string, n int) string {
	return cut(strings.ReplaceAll(s, "\x00", ""), n)
}

// bounded keeps at most n strings of at most size bytes each, dropping
// empty and longer ones and those with a NUL character.
func bounded(list []string, n, size int) []string {
	var out []string
	for _, s := range list {
		if s == "" || len(s) > size || strings.ContainsRune(s, 0) {
			continue
		}
		if len(out) == n {
			break
		}
		out = append(out, s)
	}
	return out
}
