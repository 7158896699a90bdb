package adapter

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is an adapter's vulnerability report on one artifact (the
// HarborVulnerabilityReport schema).
type Report struct {
	// GeneratedAt is when the adapter made the report; zero when it did
	// not say, or not in RFC 3339.
	GeneratedAt time.Time
	// Artifact is the artifact the report is about, as the adapter names it.
	Artifact Artifact
	Scanner  Scanner
	// Severity is the adapter's overall severity, as it spells it.
	Severity string
	// Vulnerabilities are the report's vulnerabilities, in the adapter's
	// order: all of them, or, past Options.MaxVulnerabilities, the most
	// severe.
	Vulnerabilities []Vulnerability
	// Dropped is how many vulnerabilities were not kept.
	Dropped int
	// MIMEType is the report's media type.
	MIMEType string
}

// Vulnerability is one vulnerability of one package (VulnerabilityItem).
// Fields berth does not use (vendor_attributes) are not read.
type Vulnerability struct {
	ID      string `json:"id"`
	Package string `json:"package"`
	// Version is the installed version; FixVersion the one that fixes it,
	// if any (some adapters list several, comma-separated).
	Version    string `json:"version"`
	FixVersion string `json:"fix_version"`
	// Severity is Unknown, Negligible, Low, Medium, High or Critical.
	Severity    string   `json:"severity"`
	Description string   `json:"description"`
	Links       []string `json:"links"`
	// PreferredCVSS is the v1.1 report's CVSS, nil in a v1.0 one.
	PreferredCVSS *CVSS    `json:"preferred_cvss"`
	CWEIDs        []string `json:"cwe_ids"`
	// Layer is the image layer the package came from: not in the spec,
	// but Trivy's adapter reports it.
	Layer *Layer `json:"layer"`
}

// CVSS is a vulnerability's CVSS scores and vectors.
type CVSS struct {
	ScoreV3  *float64 `json:"score_v3"`
	ScoreV2  *float64 `json:"score_v2"`
	VectorV3 string   `json:"vector_v3"`
	VectorV2 string   `json:"vector_v2"`
}

// Layer is an image layer, by its digest and its uncompressed digest.
type Layer struct {
	Digest string `json:"digest"`
	DiffID string `json:"diff_id"`
}

// Report polls the adapter for a scan's report. While the adapter is
// still making it (302), it returns a nil report and how long to wait
// before asking again: the adapter's Refresh-After (the spec's header) or
// Retry-After, else Options.PollInterval, at least MinPollInterval and at
// most Options.MaxPollInterval. A 404 is ErrScanNotFound: the spec asks
// for a new scan request then. A 500 is ErrFailed with the adapter's
// message: the scan failed.
func (c *Client) Report(ctx context.Context, id string) (*Report, time.Duration, error) {
	op := "report of scan " + strconv.Quote(clip(id, 64))
	if err := checkScanID(id); err != nil {
		return nil, 0, c.fail(op, 0, ErrBadAnswer, "", err)
	}
	resp, err := c.do(ctx, op, http.MethodGet, "/scan/"+url.PathEscape(id)+"/report", nil,
		"Accept", c.opts.ReportMIMEType)
	if err != nil {
		return nil, 0, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusFound:
		drain(resp)
		return nil, c.retryAfter(resp.Header, time.Now()), nil
	case http.StatusNotFound:
		e := c.statusError(op, resp)
		e.Kind = ErrScanNotFound
		return nil, 0, e
	default:
		return nil, 0, c.statusError(op, resp)
	}
	defer drain(resp)
	ct := resp.Header.Get("Content-Type")
	if err := checkContentType(ct, true, c.opts.ReportMIMEType); err != nil {
		return nil, 0, c.badAnswer(op, resp.StatusCode, err, 0)
	}
	if resp.ContentLength > c.opts.MaxReportSize {
		return nil, 0, c.badAnswer(op, resp.StatusCode, errBodyTooLarge, c.opts.MaxReportSize)
	}
	body := &limitedReader{r: resp.Body, n: c.opts.MaxReportSize}
	r, err := decodeReport(body, c.opts.MaxVulnerabilities)
	if err != nil {
		return nil, 0, c.badAnswer(op, resp.StatusCode, err, c.opts.MaxReportSize)
	}
	r.MIMEType = ct
	return r, 0, nil
}

// retryAfter is the wait a 302 asks for: Refresh-After (seconds, the
// spec's header) or Retry-After (seconds or an HTTP date, RFC 9110),
// bounded by the options.
func (c *Client) retryAfter(h http.Header, now time.Time) time.Duration {
	d := c.opts.PollInterval
	for _, name := range []string{"Refresh-After", "Retry-After"} {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
			d = time.Duration(min(s, 1<<20)) * time.Second
			break
		}
		if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
			break
		}
	}
	return min(max(d, MinPollInterval), c.opts.MaxPollInterval)
}

// decodeReport reads a report, keeping at most maxVulns vulnerabilities
// (the most severe) without holding more than that many in memory.
func decodeReport(r io.Reader, maxVulns int) (*Report, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, fmt.Errorf("the report is not a JSON object: %w", err)
	}
	var rep Report
	kept := &keptVulns{max: maxVulns}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		switch key {
		case "generated_at":
			var s *string
			if err := dec.Decode(&s); err != nil {
				return nil, fmt.Errorf("generated_at: %w", err)
			}
			if s != nil {
				rep.GeneratedAt, _ = time.Parse(time.RFC3339Nano, *s)
			}
		case "artifact":
			if err := dec.Decode(&rep.Artifact); err != nil {
				return nil, fmt.Errorf("artifact: %w", err)
			}
		case "scanner":
			if err := dec.Decode(&rep.Scanner); err != nil {
				return nil, fmt.Errorf("scanner: %w", err)
			}
		case "severity":
			var s *string
			if err := dec.Decode(&s); err != nil {
				return nil, fmt.Errorf("severity: %w", err)
			}
			if s != nil {
				rep.Severity = printable(*s, 64)
			}
		case "vulnerabilities":
			if err := kept.decode(dec); err != nil {
				return nil, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the report's JSON object")
	}
	rep.Vulnerabilities, rep.Dropped = kept.list(), kept.dropped
	return &rep, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, t)
	}
	return nil
}

// keptVulns holds a report's vulnerabilities, at most max of them: past
// that it is a heap whose top is the least severe kept one, which a more
// severe newcomer replaces.
type keptVulns struct {
	max     int
	items   []keptVuln
	seen    int
	dropped int
}

type keptVuln struct {
	v     Vulnerability
	rank  int
	score float64
	pos   int // position in the report
}

// decode reads the vulnerabilities array (or null).
func (k *keptVulns) decode(dec *json.Decoder) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t == nil {
		return nil
	}
	if d, ok := t.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("vulnerabilities: expected an array, found %v", t)
	}
	for dec.More() {
		var v Vulnerability
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("vulnerability %d: %w", k.seen, err)
		}
		if strings.TrimSpace(v.ID) == "" {
			return fmt.Errorf("vulnerability %d has no id", k.seen)
		}
		k.add(v)
	}
	_, err = dec.Token() // ']'
	return err
}

func (k *keptVulns) add(v Vulnerability) {
	sev, score := rate(v)
	kv := keptVuln{v: v, rank: sev.Rank(), score: score, pos: k.seen}
	k.seen++
	if len(k.items) < k.max {
		k.items = append(k.items, kv)
		if len(k.items) == k.max {
			heap.Init(k)
		}
		return
	}
	k.dropped++
	if !lessSevere(k.items[0], kv) {
		return
	}
	k.items[0] = kv
	heap.Fix(k, 0)
}

// list returns the kept vulnerabilities in the report's order.
func (k *keptVulns) list() []Vulnerability {
	slices.SortFunc(k.items, func(a, b keptVuln) int { return cmp.Compare(a.pos, b.pos) })
	out := make([]Vulnerability, len(k.items))
	for i, kv := range k.items {
		out[i] = kv.v
	}
	return out
}

// lessSevere orders vulnerabilities by severity, then CVSS score; among
// equals the later one in the report is the lesser, so the first ones
// are kept.
func lessSevere(a, b keptVuln) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	if a.score != b.score {
		return a.score < b.score
	}
	return a.pos > b.pos
}

// heap.Interface, the least severe on top.
func (k *keptVulns) Len() int           { return len(k.items) }
func (k *keptVulns) Less(i, j int) bool { return lessSevere(k.items[i], k.items[j]) }
func (k *keptVulns) Swap(i, j int)      { k.items[i], k.items[j] = k.items[j], k.items[i] }
func (k *keptVulns) Push(x any)         { k.items = append(k.items, x.(keptVuln)) }
func (k *keptVulns) Pop() any {
	x := k.items[len(k.items)-1]
	k.items = k.items[:len(k.items)-1]
	return x
}
