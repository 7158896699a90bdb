// Package rules holds the stored shapes of project policies (tag
// retention, tag immutability, webhook targets) and the pattern matching
// they share, apart from ent/schema so the generated client, the services
// and the GraphQL layer use one type each.
package rules

import (
	"fmt"
	"io"
	"strconv"

	"github.com/bmatcuk/doublestar/v4"
)

// MaxRules is how many retention or immutability rules a project may have.
const MaxRules = 15

// MaxPatternLen bounds a stored pattern.
const MaxPatternLen = 256

// Pattern selects repository or tag names with a doublestar pattern ("**",
// "library/*", "v1.*", "{dev,test}-*"); Exclude selects the names it does
// not match instead.
type Pattern struct {
	Pattern string `json:"pattern"`
	Exclude bool   `json:"exclude,omitempty"`
}

// Validate reports a pattern that is empty, too long or malformed.
func (p Pattern) Validate() error {
	switch {
	case p.Pattern == "":
		return fmt.Errorf("a pattern may not be empty (use ** for everything)")
	case len(p.Pattern) > MaxPatternLen:
		return fmt.Errorf("a pattern may be at most %d characters", MaxPatternLen)
	case !doublestar.ValidatePattern(p.Pattern):
		return fmt.Errorf("%q is not a valid pattern", p.Pattern)
	}
	return nil
}

// Matches reports whether the pattern selects name.
func (p Pattern) Matches(name string) bool {
	ok, err := doublestar.Match(p.Pattern, name)
	return err == nil && ok != p.Exclude
}

// String is how rules are named in reasons and errors: "v1.*" or "not v1.*".
func (p Pattern) String() string {
	if p.Exclude {
		return "not " + strconv.Quote(p.Pattern)
	}
	return strconv.Quote(p.Pattern)
}

// Template is what a retention rule keeps of the artifacts it selects.
type Template string

// Retention templates.
const (
	LatestPushed     Template = "LATEST_PUSHED"
	LatestPulled     Template = "LATEST_PULLED"
	PushedWithinDays Template = "PUSHED_WITHIN_DAYS"
	PulledWithinDays Template = "PULLED_WITHIN_DAYS"
	Always           Template = "ALWAYS"
)

// MarshalGQL writes the template as a GraphQL enum value.
func (t Template) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(t))) }

// UnmarshalGQL reads a GraphQL enum value.
func (t *Template) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch Template(s) {
	case LatestPushed, LatestPulled, PushedWithinDays, PulledWithinDays, Always:
		*t = Template(s)
		return nil
	}
	return fmt.Errorf("%q is not a RetentionTemplate", v)
}

// RetentionRule keeps, in the repositories it selects, some of the
// artifacts whose tags it selects (or that have none, with Untagged).
type RetentionRule struct {
	Repositories Pattern  `json:"repositories"`
	Tags         Pattern  `json:"tags"`
	Untagged     bool     `json:"untagged,omitempty"`
	Template     Template `json:"template"`
	Count        *int     `json:"count,omitempty"`
	Days         *int     `json:"days,omitempty"`
	Disabled     bool     `json:"disabled,omitempty"`
}

// Candidate is an artifact a retention run looked at: deleted, or kept
// and why.
type Candidate struct {
	Repository string   `json:"repository"`
	Digest     string   `json:"digest"`
	Tags       []string `json:"tags"`
	Reason     string   `json:"reason"`
}

// RepositoryCount is what a retention run did in one repository.
type RepositoryCount struct {
	Repository string `json:"repository"`
	Deleted    int    `json:"deleted"`
	Retained   int    `json:"retained"`
}

// Format is the shape of a webhook's request body.
type Format string

// Webhook payload formats.
const (
	FormatJSON        Format = "JSON"
	FormatCloudEvents Format = "CLOUDEVENTS"
	FormatSlack       Format = "SLACK"
)

// MarshalGQL writes the format as a GraphQL enum value.
func (f Format) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(f))) }

// UnmarshalGQL reads a GraphQL enum value.
func (f *Format) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch Format(s) {
	case FormatJSON, FormatCloudEvents, FormatSlack:
		*f = Format(s)
		return nil
	}
	return fmt.Errorf("%q is not a WebhookFormat", v)
}

// WebhookTarget is one HTTP endpoint of a webhook policy.
type WebhookTarget struct {
	URL string `json:"url"`
	// AuthHeader is sent as the Authorization header; never shown again.
	AuthHeader    string `json:"authHeader,omitempty"`
	SkipTLSVerify bool   `json:"skipTLSVerify,omitempty"`
	Format        Format `json:"format"`
}
