package database

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/lease"
	"github.com/berth-registry/berth/internal/viewer"
)

// Leases are named locks shared by every process on one database. A lease
// is held until it expires unless its holder renews it, so a process that
// dies holding one frees it after at most its time to live. They are
// conditional writes on one row, the same on SQLite and PostgreSQL.

// AcquireLease takes lease name for holder for ttl and reports whether it
// got it: when nobody holds it, its holder let it expire, or holder
// already holds it.
func AcquireLease(ctx context.Context, client *ent.Client, name, holder string, ttl time.Duration) (bool, error) {
	sys := viewer.SystemContext(ctx)
	now := time.Now()
	n, err := client.Lease.Update().
		Where(lease.Name(name), lease.Or(lease.ExpiresAtLT(now), lease.Holder(holder))).
		SetHolder(holder).SetExpiresAt(now.Add(ttl)).Save(sys)
	if err != nil || n == 1 {
		return n == 1, err
	}
	err = client.Lease.Create().SetName(name).SetHolder(holder).SetExpiresAt(now.Add(ttl)).Exec(sys)
	if ent.IsConstraintError(err) {
		return false, nil // held by someone else
	}
	return err == nil, err
}

// RenewLease extends holder's lease name by ttl and reports whether holder
// still held it.
func RenewLease(ctx context.Context, client *ent.Client, name, holder string, ttl time.Duration) (bool, error) {
	n, err := client.Lease.Update().Where(lease.Name(name), lease.Holder(holder)).
		SetExpiresAt(time.Now().Add(ttl)).Save(viewer.SystemContext(ctx))
	return n == 1, err
}

// ReleaseLease gives lease name up if holder holds it.
func ReleaseLease(ctx context.Context, client *ent.Client, name, holder string) error {
	_, err := client.Lease.Delete().Where(lease.Name(name), lease.Holder(holder)).Exec(viewer.SystemContext(ctx))
	return err
}

// TakeLease moves lease name from holder from to holder to, if from still
// holds it: for a holder known to be dead (a process of this host that no
// longer exists) whose lease has not lapsed yet.
func TakeLease(ctx context.Context, client *ent.Client, name, from, to string, ttl time.Duration) (bool, error) {
	n, err := client.Lease.Update().Where(lease.Name(name), lease.Holder(from)).
		SetHolder(to).SetExpiresAt(time.Now().Add(ttl)).Save(viewer.SystemContext(ctx))
	return n == 1, err
}

// LeaseHolder returns who holds lease name, or "" when nobody does.
func LeaseHolder(ctx context.Context, client *ent.Client, name string) (string, error) {
	l, err := client.Lease.Query().Where(lease.Name(name), lease.ExpiresAtGTE(time.Now())).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return l.Holder, nil
}

// HolderGone reports whether holder, written as host/pid/nonce, was a
// process of this host that no longer exists: its leases can be taken at
// once instead of after they lapse.
func HolderGone(holder string) bool {
	parts := strings.Split(holder, "/")
	if len(parts) != 3 {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if me, _ := os.Hostname(); err != nil || pid <= 0 || parts[0] != me {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	// Signal 0 checks existence; EPERM means it exists as another user.
	err = p.Signal(syscall.Signal(0))
	return err != nil && !errors.Is(err, syscall.EPERM)
}

// InstallationID returns the random id of this berth installation (its
// database), created on first use: what keeps the Redis channels of two
// installations that share one Redis apart. It is kept as a lease that
// never expires.
func InstallationID(ctx context.Context, client *ent.Client) (string, error) {
	sys := viewer.SystemContext(ctx)
	b := make([]byte, 12)
	rand.Read(b)
	err := client.Lease.Create().SetName("installation").SetHolder(hex.EncodeToString(b)).
		SetExpiresAt(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)).Exec(sys)
	if err != nil && !ent.IsConstraintError(err) {
		return "", err
	}
	return LeaseHolder(ctx, client, "installation")
}
