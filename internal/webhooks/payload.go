package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/internal/events"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the exact
// request body, keyed with the policy's secret (the string shown when the
// policy was created, as bytes).
const SignatureHeader = "X-Berth-Signature"

// Sign returns the X-Berth-Signature value of body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Payload is berth's own JSON body (format JSON), and the data of the
// CloudEvents format. Every key is always present; what an event does not
// have is null, except tags ([]) and detail ({}):
//
//	{
//	  "type": "PUSH_ARTIFACT",
//	  "id": 1234,
//	  "occurredAt": "2026-12-06T05:25:33.123456Z",
//	  "project": "library",
//	  "repository": "library/nginx",
//	  "digest": "sha256:4f3c…",
//	  "mediaType": "application/vnd.oci.image.manifest.v1+json",
//	  "tags": ["1.27", "latest"],
//	  "size": 7234,
//	  "actor": "alice",
//	  "detail": {}
//	}
//
// id is the event's number: events are numbered in the order they were
// recorded and a retried delivery carries the same one, so receivers can
// drop duplicates. Test deliveries (testWebhook) have id 0 and "test": true.
type Payload struct {
	Type       events.Type    `json:"type"`
	ID         int            `json:"id"`
	OccurredAt time.Time      `json:"occurredAt"`
	Project    *string        `json:"project"`
	Repository *string        `json:"repository"`
	Digest     *string        `json:"digest"`
	MediaType  *string        `json:"mediaType"`
	Tags       []string       `json:"tags"`
	Size       *int64         `json:"size"`
	Actor      *string        `json:"actor"`
	Detail     map[string]any `json:"detail"`
	Test       bool           `json:"test,omitempty"`
}

// NewPayload is the berth JSON body of an event.
func NewPayload(e events.Event, test bool) Payload {
	p := Payload{
		Type: e.Type, ID: e.ID, OccurredAt: e.OccurredAt.UTC(),
		Project: nullable(e.Project), Repository: nullable(e.Repository), Digest: nullable(e.Digest),
		MediaType: nullable(e.MediaType), Actor: nullable(e.Actor),
		Tags: e.Tags, Detail: e.Detail, Test: test,
	}
	if p.Tags == nil {
		p.Tags = []string{}
	}
	if p.Detail == nil {
		p.Detail = map[string]any{}
	}
	if e.Size != 0 {
		p.Size = &e.Size
	}
	return p
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CloudEvent is a CloudEvents 1.0 event in structured JSON mode.
type CloudEvent struct {
	SpecVersion     string  `json:"specversion"`
	ID              string  `json:"id"`
	Source          string  `json:"source"`
	Type            string  `json:"type"`
	Subject         string  `json:"subject,omitempty"`
	Time            string  `json:"time"`
	DataContentType string  `json:"datacontenttype"`
	Data            Payload `json:"data"`
}

// CloudEventType is the CloudEvents type of an event type, reverse-DNS
// named after berth: PUSH_ARTIFACT is io.berth.artifact.pushed.
func CloudEventType(t events.Type) string {
	switch t {
	case events.PushArtifact:
		return "io.berth.artifact.pushed"
	case events.PullArtifact:
		return "io.berth.artifact.pulled"
	case events.DeleteArtifact:
		return "io.berth.artifact.deleted"
	case events.TagCreated:
		return "io.berth.tag.created"
	case events.TagDeleted:
		return "io.berth.tag.deleted"
	case events.QuotaWarning:
		return "io.berth.quota.warning"
	case events.QuotaExceeded:
		return "io.berth.quota.exceeded"
	case events.RetentionCompleted:
		return "io.berth.retention.completed"
	case events.GCCompleted:
		return "io.berth.gc.completed"
	}
	return "io.berth." + strings.ToLower(string(t))
}

// newCloudEvent wraps the berth JSON of an event. Its id is the event's
// number, the same for every target: it is one event, and CloudEvents
// consumers drop duplicates by source and id. Test events, which all have
// number 0, get the delivery's id instead.
func (s *Service) newCloudEvent(e events.Event, test bool, deliveryID string) CloudEvent {
	id := fmt.Sprint(e.ID)
	if test {
		id = deliveryID
	}
	source := strings.TrimSuffix(s.opts.ExternalURL, "/")
	if e.Project != "" {
		source += "/projects/" + url.PathEscape(e.Project)
	}
	if source == "" {
		source = "/"
	}
	subject := e.Repository
	if subject != "" && e.Digest != "" {
		subject += "@" + e.Digest
	}
	return CloudEvent{
		SpecVersion: "1.0", ID: id, Source: source, Type: CloudEventType(e.Type), Subject: subject,
		Time: e.OccurredAt.UTC().Format(time.RFC3339Nano), DataContentType: "application/json",
		Data: NewPayload(e, test),
	}
}

// body encodes an event in a target's format and returns it with its
// content type.
func (s *Service) body(f rules.Format, e events.Event, test bool, deliveryID string) ([]byte, string, error) {
	var v any
	contentType := "application/json"
	switch f {
	case rules.FormatCloudEvents:
		v, contentType = s.newCloudEvent(e, test, deliveryID), "application/cloudevents+json"
	case rules.FormatSlack:
		v = map[string]string{"text": SlackText(e, test)}
	default:
		v = NewPayload(e, test)
	}
	b, err := json.Marshal(v)
	return b, contentType, err
}

// SlackText is the message of the Slack format, in Slack's mrkdwn.
func SlackText(e events.Event, test bool) string {
	who := "berth"
	if e.Actor != "" {
		who = e.Actor
	}
	who = "*" + slackEscape(who) + "*"
	artifact := "`" + slackEscape(e.Repository)
	if e.Digest != "" {
		artifact += "@" + slackEscape(shortDigest(e.Digest))
	}
	artifact += "`"
	if len(e.Tags) > 0 {
		artifact += " (" + slackEscape(strings.Join(e.Tags, ", ")) + ")"
	}
	tags := make([]string, len(e.Tags))
	for i, t := range e.Tags {
		tags[i] = "`" + slackEscape(e.Repository+":"+t) + "`"
	}
	tag := strings.Join(tags, ", ")
	if tag == "" {
		tag = "`" + slackEscape(e.Repository) + "`"
	}
	project := "*" + slackEscape(e.Project) + "*"
	var text string
	switch e.Type {
	case events.PushArtifact:
		text = fmt.Sprintf("%s pushed %s", who, artifact)
	case events.PullArtifact:
		text = fmt.Sprintf("%s pulled %s", who, artifact)
	case events.DeleteArtifact:
		text = fmt.Sprintf("%s deleted %s", who, artifact)
	case events.TagCreated:
		text = fmt.Sprintf("%s tagged %s", who, tag)
	case events.TagDeleted:
		text = fmt.Sprintf("%s deleted the tag %s", who, tag)
	case events.QuotaWarning:
		text = fmt.Sprintf("Project %s is close to its storage quota", project)
	case events.QuotaExceeded:
		text = fmt.Sprintf("Project %s has exceeded its storage quota", project)
	case events.RetentionCompleted:
		text = fmt.Sprintf("Tag retention finished in project %s", project)
	case events.GCCompleted:
		text = "Garbage collection finished"
	default:
		text = fmt.Sprintf("%s in project %s", slackEscape(string(e.Type)), project)
	}
	switch e.Type {
	case events.QuotaWarning, events.QuotaExceeded:
		if e.Size > 0 {
			text += fmt.Sprintf(" (%s used)", humanBytes(e.Size))
		}
	case events.PushArtifact, events.DeleteArtifact:
		if e.Size > 0 {
			text += fmt.Sprintf(", %s", humanBytes(e.Size))
		}
	}
	if test {
		text = "[test] " + text + " — a test message from berth"
	}
	return text
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func shortDigest(d string) string {
	algo, hexPart, ok := strings.Cut(d, ":")
	if ok && len(hexPart) > 12 {
		return algo + ":" + hexPart[:12]
	}
	return d
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
