package registry

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	entdialect "entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/uploadsession"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/viewer"
)

// An upload session has at most one writer at a time. Two PATCHes that
// append to the same upload at once would interleave their bytes, and the
// hash state either one saves would then describe bytes that are not the
// ones stored: a blob could be committed under a digest its bytes do not
// have, and every later push of the genuine content would be deduplicated
// onto it. So a request that writes (PATCH, or PUT with a last chunk and
// the commit) reads the session and takes its hold with one conditional
// UPDATE … RETURNING (nobody else may hold it), and only then checks the
// offset it was sent against the one it read. That single statement is
// atomic on SQLite and PostgreSQL alike, so of two racing requests
// exactly one wins; the other gets 416 with the current Range. The holder
// renews the hold while it streams; one that dies frees the session when
// the hold lapses. None of these writes waits for PostgreSQL to flush its
// log (database.Unsynced): a session that a database crash set back is
// checked against the bytes in storage by the next request, like one a
// client abandoned.
const (
	uploadHoldFor   = 2 * time.Minute
	uploadHoldRenew = 30 * time.Second
)

// errUploadBusy means another request holds the upload, or the upload no
// longer has the offset the request expected.
var errUploadBusy = errors.New("another request is writing to this upload, or it moved on")

// uploadHold is a request's hold on an upload session.
type uploadHold struct {
	db    *database.DB
	id    int
	token string

	// ctx ends when the hold is lost (another request took over a lapsed
	// hold); the holder stops writing then.
	ctx    context.Context
	cancel context.CancelFunc
	stop   chan struct{}
	wg     sync.WaitGroup
}

// startHold keeps renewing the hold token has on session id until release.
func startHold(ctx context.Context, db *database.DB, id int, token string) *uploadHold {
	h := &uploadHold{db: db, id: id, token: token, stop: make(chan struct{})}
	h.ctx, h.cancel = context.WithCancel(ctx)
	h.wg.Add(1)
	go h.renew(viewer.SystemContext(context.WithoutCancel(ctx)))
	return h
}

// takeUpload reads upload id of repository name and takes its hold in
// one statement (UPDATE … RETURNING): a request that writes to an upload
// costs no query before it. When the upload exists but someone else holds
// it, the error is errUploadBusy with the session as it stands, for the
// 416's Range; when it does not exist, the error is uploadUnknown.
func takeUpload(ctx context.Context, db *database.DB, name, id string) (*ent.UploadSession, *uploadHold, error) {
	sys := viewer.SystemContext(context.WithoutCancel(ctx))
	token := rand.Text()
	now := time.Now()
	dialect := entdialect.SQLite
	if db.Kind == database.Postgres {
		dialect = entdialect.Postgres
	}
	query, args := entsql.Dialect(dialect).Update(uploadsession.Table).
		Set(uploadsession.FieldWriter, token).
		Set(uploadsession.FieldWriterUntil, now.Add(uploadHoldFor)).
		Set(uploadsession.FieldUpdatedAt, now).
		Where(entsql.And(
			entsql.EQ(uploadsession.FieldUUID, id), entsql.EQ(uploadsession.FieldRepository, name),
			entsql.Or(entsql.IsNull(uploadsession.FieldWriter), entsql.LT(uploadsession.FieldWriterUntil, now)))).
		Returning(uploadsession.Columns...).Query()
	var s *ent.UploadSession
	err := db.Unsynced(sys, func(client *ent.Client) error {
		rows, err := client.QueryContext(sys, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if s, err = scanUploadSession(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, nil, err
	}
	if s == nil {
		cur, err := db.UploadSession.Query().Where(uploadsession.UUID(id), uploadsession.Repository(name)).Only(sys)
		if ent.IsNotFound(err) {
			return nil, nil, uploadUnknown(id)
		}
		if err != nil {
			return nil, nil, err
		}
		return cur, nil, errUploadBusy
	}
	return s, startHold(ctx, db, s.ID, token), nil
}

// scanUploadSession reads a row of uploadsession.Columns, in their order.
func scanUploadSession(rows interface{ Scan(...any) error }) (*ent.UploadSession, error) {
	var (
		s      ent.UploadSession
		writer sql.NullString
		until  sql.NullTime
	)
	if err := rows.Scan(&s.ID, &s.UUID, &s.Repository, &s.Offset, &s.Algorithm, &s.HashState,
		&writer, &until, &s.StartedAt, &s.UpdatedAt); err != nil {
		return nil, fmt.Errorf("reading an upload session: %w", err)
	}
	if writer.Valid {
		s.Writer = &writer.String
	}
	if until.Valid {
		s.WriterUntil = &until.Time
	}
	return &s, nil
}

func (h *uploadHold) renew(sys context.Context) {
	defer h.wg.Done()
	t := time.NewTicker(uploadHoldRenew)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			var n int
			err := h.db.Unsynced(sys, func(client *ent.Client) (err error) {
				n, err = client.UploadSession.Update().
					Where(uploadsession.ID(h.id), uploadsession.Writer(h.token)).
					SetWriterUntil(time.Now().Add(uploadHoldFor)).Save(sys)
				return err
			})
			if err == nil && n == 0 {
				h.cancel() // lost: someone else holds it now
				return
			}
		}
	}
}

// save stores the session's new state and gives the hold up in one
// conditional UPDATE: if the hold was lost meanwhile nothing is written
// and the error is errUploadBusy.
func (h *uploadHold) save(ctx context.Context, offset int64, hashState []byte) error {
	h.halt()
	sys := viewer.SystemContext(context.WithoutCancel(ctx))
	var n int
	err := h.db.Unsynced(sys, func(client *ent.Client) (err error) {
		upd := client.UploadSession.Update().
			Where(uploadsession.ID(h.id), uploadsession.Writer(h.token)).
			SetOffset(offset).ClearWriter().ClearWriterUntil()
		if hashState != nil {
			upd.SetHashState(hashState)
		} else {
			upd.ClearHashState()
		}
		n, err = upd.Save(sys)
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return errUploadBusy
	}
	return nil
}

// release gives the hold up without changing the session (an error path,
// or a commit that deletes the session anyway).
func (h *uploadHold) release(ctx context.Context) {
	h.halt()
	sys := viewer.SystemContext(context.WithoutCancel(ctx))
	_ = h.db.Unsynced(sys, func(client *ent.Client) error {
		_, err := client.UploadSession.Update().
			Where(uploadsession.ID(h.id), uploadsession.Writer(h.token)).
			ClearWriter().ClearWriterUntil().Save(sys)
		return err
	})
}

// halt stops renewing; safe to call more than once.
func (h *uploadHold) halt() {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	h.wg.Wait()
	h.cancel()
}
