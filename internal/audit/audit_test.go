package audit_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/auditlog"
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
		r := audit.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

// TestABurstOfPullsIsWrittenWhole: a second's worth of pulls from a busy
// fleet (more entries than one INSERT may bind on either database) is
// written in full, each entry with the time it happened, from concurrent
// callers.
func TestABurstOfPullsIsWrittenWhole(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		r := audit.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
		defer r.Close()
		ctx := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, Username: "ci"})
		before := time.Now()
		const callers, each = 8, 1500
		var wg sync.WaitGroup
		for c := 0; c < callers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					r.Record(ctx, audit.Entry{Operation: "pull", ResourceType: "artifact", Resource: "team/app:v1", Project: "team"})
				}
			}()
		}
		wg.Wait()
		r.Flush(ctx)
		sys := viewer.SystemContext(ctx)
		n, err := db.Client.AuditLog.Query().Count(sys)
		if err != nil {
			t.Fatal(err)
		}
		if n != callers*each {
			t.Fatalf("%d of %d pull entries written", n, callers*each)
		}
		first, err := db.Client.AuditLog.Query().Order(ent.Asc(auditlog.FieldCreatedAt)).First(sys)
		if err != nil {
			t.Fatal(err)
		}
		if first.CreatedAt.Before(before.Add(-time.Second)) || first.CreatedAt.After(time.Now()) || first.Actor != "ci" || first.Operation != "pull" ||
			first.ResourceType != "artifact" || first.Resource != "team/app:v1" || first.Project != "team" || first.Result != audit.Success ||
			first.Detail != "" || first.ClientIP != "" || first.UserAgent != "" {
			t.Fatalf("first entry: %+v", first)
		}
	})
}
