package audit_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/clientip"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestEntriesAreClippedToBoundedValidText: whatever a caller sends (a 700
// KB username, scopes or user agent, bytes that are not UTF-8, NUL bytes),
// an audit entry is written, every field is valid text, and the entry
// takes a few KB at most.
func TestEntriesAreClippedToBoundedValidText(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		r := audit.New(db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)))
		defer r.Close()
		huge := strings.Repeat("é", 350<<10) // 700 KB, cut mid-rune at any odd byte count
		bad := "bad\xff\xfe\x00bytes" + huge
		entries := []audit.Entry{
			{Operation: "login", ResourceType: "user", Resource: huge, Actor: huge, Detail: huge, Result: audit.Failure},
			{Operation: "token" + huge, ResourceType: bad, Resource: bad, Project: bad, Actor: bad, Detail: bad, Result: bad},
			{Operation: "pull", ResourceType: "artifact", Resource: bad, Project: huge, Actor: huge},
		}
		// The request's user agent comes from the client too.
		var ctx context.Context
		h := audit.Middleware(clientip.New(nil).Addr, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { ctx = req.Context() }))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("User-Agent", bad)
		h.ServeHTTP(httptest.NewRecorder(), req)
		for _, e := range entries {
			r.Record(ctx, e)
		}
		r.Flush(ctx)
		rows, err := db.Client.AuditLog.Query().All(viewer.SystemContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(entries) {
			t.Fatalf("%d of %d entries written", len(rows), len(entries))
		}
		for _, row := range rows {
			fields := []string{row.Actor, row.Operation, row.ResourceType, row.Resource, row.Project,
				row.ClientIP, row.UserAgent, row.Result, row.Detail}
			total := 0
			for _, f := range fields {
				total += len(f)
				if !utf8.ValidString(f) || strings.ContainsRune(f, 0) {
					t.Errorf("entry %d: field %q is not valid text", row.ID, f[:min(len(f), 40)])
				}
			}
			if len(row.Actor) > 255 || len(row.Project) > 255 || len(row.Resource) > 1024 || len(row.Detail) > 1024 {
				t.Errorf("entry %d: actor %d, project %d, resource %d, detail %d bytes", row.ID,
					len(row.Actor), len(row.Project), len(row.Resource), len(row.Detail))
			}
			if total > 4<<10 {
				t.Errorf("entry %d takes %d bytes", row.ID, total)
			}
		}
	})
}
