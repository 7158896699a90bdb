package registry

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"time"

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
// the commit) first takes the session's hold with one conditional UPDATE
// (the row's offset must be the one the request saw, and nobody else may
// hold it). That single statement is atomic on SQLite and PostgreSQL
// alike, so of two racing requests exactly one wins; the other gets 416
// with the current Range. The holder renews the hold while it streams;
// one that dies frees the session when the hold lapses. None of these
// writes waits for PostgreSQL to flush its log (database.Unsynced): a
// session that a database crash set back is checked against the bytes in
// storage by the next request, like one a client abandoned.
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

// holdUpload takes the hold on session s, which the caller read with
// s.Offset bytes, and keeps renewing it until release.
func holdUpload(ctx context.Context, db *database.DB, s *ent.UploadSession) (*uploadHold, error) {
	sys := viewer.SystemContext(context.WithoutCancel(ctx))
	token := rand.Text()
	now := time.Now()
	var n int
	err := db.Unsynced(sys, func(client *ent.Client) (err error) {
		n, err = client.UploadSession.Update().
			Where(uploadsession.ID(s.ID), uploadsession.Offset(s.Offset),
				uploadsession.Or(uploadsession.WriterIsNil(), uploadsession.WriterUntilLT(now))).
			SetWriter(token).SetWriterUntil(now.Add(uploadHoldFor)).
			Save(sys)
		return err
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errUploadBusy
	}
	h := &uploadHold{db: db, id: s.ID, token: token, stop: make(chan struct{})}
	h.ctx, h.cancel = context.WithCancel(ctx)
	h.wg.Add(1)
	go h.renew(sys)
	return h, nil
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
