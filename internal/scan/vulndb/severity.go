package vulndb

import (
	"encoding/json"
	"strings"

	cvss2 "github.com/pandatix/go-cvss/20"
	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"
)

// Severity is how bad a vulnerability is, as scan reports and policies
// name it.
type Severity string

// The severity levels, from the CVSS base score (CRITICAL >= 9.0, HIGH >=
// 7.0, MEDIUM >= 4.0, LOW > 0) or, without a CVSS vector, from the
// database's or ecosystem's own rating.
const (
	Critical Severity = "CRITICAL"
	High     Severity = "HIGH"
	Medium   Severity = "MEDIUM"
	Low      Severity = "LOW"
	Unknown  Severity = "UNKNOWN"
)

// Rank orders severities, the worst highest: Critical 4 down to Unknown 0.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// levelOf maps a CVSS score to a level. CVSS v2 has no CRITICAL: its
// scores of 7.0 and above are HIGH.
func levelOf(score float64, v2 bool) Severity {
	switch {
	case score >= 9.0 && !v2:
		return Critical
	case score >= 7.0:
		return High
	case score >= 4.0:
		return Medium
	case score > 0:
		return Low
	}
	return Unknown
}

// rating is the severity of a record or of one affected package.
type rating struct {
	Level  Severity
	Vector string  // the CVSS vector the level comes from, if any
	Score  float64 // its base score
}

// rate reads OSV severity entries and, when none is a CVSS vector that
// parses, the "severity" (or Debian's "urgency") of the database_specific
// and ecosystem_specific objects given. The CVSS version preferred is 3.x,
// the one every source rates with, then 4.0, then 2.0.
func rate(entries []osvSeverity, specific ...json.RawMessage) rating {
	best := map[string]rating{}
	var named []string
	for _, e := range entries {
		vector := strings.TrimSpace(e.Score)
		switch e.Type {
		case "CVSS_V3":
			var score float64
			switch {
			case strings.HasPrefix(vector, "CVSS:3.1/"):
				v, err := cvss31.ParseVector(vector)
				if err != nil {
					continue
				}
				score = v.BaseScore()
			case strings.HasPrefix(vector, "CVSS:3.0/"):
				v, err := cvss30.ParseVector(vector)
				if err != nil {
					continue
				}
				score = v.BaseScore()
			default:
				continue
			}
			keepWorst(best, "3", rating{levelOf(score, false), vector, score})
		case "CVSS_V4":
			v, err := cvss40.ParseVector(vector)
			if err != nil {
				continue
			}
			score := v.Score()
			keepWorst(best, "4", rating{levelOf(score, false), vector, score})
		case "CVSS_V2":
			v, err := cvss2.ParseVector(vector)
			if err != nil {
				continue
			}
			score := v.BaseScore()
			keepWorst(best, "2", rating{levelOf(score, true), vector, score})
		default:
			// Ubuntu's priorities and the like: a word, not a vector.
			named = append(named, vector)
		}
	}
	for _, version := range []string{"3", "4", "2"} {
		if r, ok := best[version]; ok {
			return r
		}
	}
	for _, raw := range specific {
		named = append(named, specificRatings(raw)...)
	}
	worst := rating{Level: Unknown}
	for _, word := range named {
		if l := levelOfWord(word); l.Rank() > worst.Level.Rank() {
			worst.Level = l
		}
	}
	return worst
}

func keepWorst(best map[string]rating, version string, r rating) {
	if old, ok := best[version]; !ok || r.Score > old.Score {
		best[version] = r
	}
}

// specificRatings returns the rating words of a database_specific or
// ecosystem_specific object: {"severity": "HIGH"} (GitHub), {"urgency":
// "medium"} (Debian), {"severity": [{"type": "...", "score": "..."}]}.
func specificRatings(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	var words []string
	for _, key := range []string{"severity", "urgency"} {
		var word string
		if json.Unmarshal(obj[key], &word) == nil && word != "" {
			words = append(words, word)
			continue
		}
		var list []osvSeverity
		if json.Unmarshal(obj[key], &list) == nil {
			for _, s := range list {
				words = append(words, s.Score)
			}
		}
	}
	return words
}

// levelOfWord reads the rating words of GitHub (moderate), Red Hat
// (important), Debian (unimportant, not yet assigned), Ubuntu
// (negligible) and the rest.
func levelOfWord(word string) Severity {
	switch strings.ToLower(strings.TrimSpace(word)) {
	case "critical":
		return Critical
	case "high", "important":
		return High
	case "medium", "moderate":
		return Medium
	case "low", "negligible", "unimportant", "minor":
		return Low
	}
	return Unknown
}
