package vulndb

import (
	"encoding/json"
	"testing"

	"github.com/berth-registry/berth/ent/schema/osvrange"
)

func TestVulndbRatesCVSSVectorsAndRatingWords(t *testing.T) {
	for _, c := range []struct {
		name     string
		entries  []osvSeverity
		specific string
		level    Severity
		score    float64
	}{
		{"CVSS 3.1 critical", []osvSeverity{{"CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}, "", Critical, 9.8},
		{"CVSS 3.1 medium", []osvSeverity{{"CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"}}, "", Medium, 5.4},
		{"CVSS 3.0 high", []osvSeverity{{"CVSS_V3", "CVSS:3.0/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}}, "", High, 7.2},
		{"CVSS 4.0", []osvSeverity{{"CVSS_V4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}}, "", Critical, 9.3},
		{"CVSS 2.0 has no critical", []osvSeverity{{"CVSS_V2", "AV:N/AC:L/Au:N/C:C/I:C/A:C"}}, "", High, 10},
		{"3.x preferred to 4.0", []osvSeverity{
			{"CVSS_V4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
			{"CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"},
		}, "", Medium, 5.4},
		{"a broken vector falls back to the database's word", []osvSeverity{{"CVSS_V3", "CVSS:3.1/AV:X"}}, `{"severity": "MODERATE"}`, Medium, 0},
		{"GitHub's word", nil, `{"severity": "HIGH"}`, High, 0},
		{"Red Hat's word", nil, `{"severity": "Important"}`, High, 0},
		{"Debian's urgency", nil, `{"urgency": "unimportant"}`, Low, 0},
		{"Debian's unassigned urgency", nil, `{"urgency": "not yet assigned"}`, Unknown, 0},
		{"Ubuntu's priority", []osvSeverity{{"Ubuntu", "medium"}}, "", Medium, 0},
		{"nothing", nil, "", Unknown, 0},
	} {
		var specific []json.RawMessage
		if c.specific != "" {
			specific = append(specific, json.RawMessage(c.specific))
		}
		r := rate(c.entries, specific...)
		if r.Level != c.level || r.Score != c.score {
			t.Errorf("%s: %s %.1f, want %s %.1f", c.name, r.Level, r.Score, c.level, c.score)
		}
	}
}

func TestVulndbRangeEvaluationFollowsOSV(t *testing.T) {
	events := func(pairs ...string) []osvrange.Event {
		var out []osvrange.Event
		for i := 0; i < len(pairs); i += 2 {
			var e osvrange.Event
			switch pairs[i] {
			case "introduced":
				e.Introduced = pairs[i+1]
			case "fixed":
				e.Fixed = pairs[i+1]
			case "last_affected":
				e.LastAffected = pairs[i+1]
			case "limit":
				e.Limit = pairs[i+1]
			}
			out = append(out, e)
		}
		return out
	}
	cases := []struct {
		ecosystem, rangeType, version string
		events                        []osvrange.Event
		affected                      bool
		fixed                         string
	}{
		{"npm", "ECOSYSTEM", "2.1.0", events("fixed", "2.5.0", "introduced", "2.0.0", "fixed", "1.5.0", "introduced", "0"), true, "2.5.0"},
		{"npm", "ECOSYSTEM", "1.7.0", events("fixed", "2.5.0", "introduced", "2.0.0", "fixed", "1.5.0", "introduced", "0"), false, "2.5.0"},
		// PEP 440: a release candidate comes before its release.
		{"PyPI", "ECOSYSTEM", "1.0rc1", events("introduced", "0", "fixed", "1.0"), true, "1.0"},
		// dpkg: an epoch outweighs the rest, ~ sorts before everything.
		{"Debian:12", "ECOSYSTEM", "1:0.9-1", events("introduced", "0", "fixed", "2.0-1"), false, ""},
		{"Debian:12", "ECOSYSTEM", "2.0-1~deb12u1", events("introduced", "0", "fixed", "2.0-1"), true, "2.0-1"},
		{"Alpine:v3.19", "ECOSYSTEM", "1.2.3-r10", events("introduced", "0", "fixed", "1.2.3-r9"), false, ""},
		{"Maven", "ECOSYSTEM", "1.4.2", events("introduced", "1.0", "last_affected", "1.4.2"), true, ""},
		{"Maven", "ECOSYSTEM", "1.4.2.1", events("introduced", "1.0", "last_affected", "1.4.2"), false, ""},
		// limit: only versions below it are in.
		{"crates.io", "SEMVER", "1.9.0", events("introduced", "1.0.0", "limit", "2.0.0"), true, ""},
		{"crates.io", "SEMVER", "2.0.0", events("introduced", "1.0.0", "limit", "2.0.0"), false, ""},
		{"crates.io", "SEMVER", "2.0.0", events("introduced", "1.0.0", "limit", "*"), true, ""},
		// SEMVER: pre-releases before the release.
		{"Go", "SEMVER", "v1.2.0-rc.1", events("introduced", "0", "fixed", "1.2.0"), true, "1.2.0"},
	}
	for _, c := range cases {
		order, ok := orderOf(c.rangeType, c.ecosystem)
		if !ok {
			t.Fatalf("%s: no order", c.ecosystem)
		}
		v, err := order.parse(c.version)
		if err != nil {
			t.Fatal(err)
		}
		affected, fixed, ok := order.evaluate(v, c.events)
		if !ok || affected != c.affected || fixed != c.fixed {
			t.Errorf("%s %s in %+v: affected %t fixed %q ok %t, want %t %q", c.ecosystem, c.version, c.events, affected, fixed, ok, c.affected, c.fixed)
		}
	}
	if _, ok := orderOf("ECOSYSTEM", "GitHub Actions"); ok {
		t.Errorf("an ecosystem without version rules has an order")
	}
}

func TestVulndbPyPINamesAreNormalized(t *testing.T) {
	for in, want := range map[string]string{"Jinja2": "jinja2", "zope.interface": "zope-interface", "Foo__Bar-.baz": "foo-bar-baz"} {
		if got := nameKey("PyPI", in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if got := nameKey("Go", "github.com/BurntSushi/toml"); got != "github.com/BurntSushi/toml" {
		t.Errorf("Go names changed: %s", got)
	}
}
