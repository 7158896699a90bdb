package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/auth/oidc"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/secrets"
	"github.com/berth-registry/berth/internal/webhooks"
)

// SecretKeyFile is where a SQLite installation without a configured
// secret key keeps the one it generated, under the data dir.
const SecretKeyFile = "secret.key"

// OpenSecrets returns the box that seals the secrets berth stores, under
// the configured secret key (BERTH_SECRET_KEY). PostgreSQL refuses to go
// without one: the replicas share the database, so they must share the
// key, and none may make up its own. SQLite, which one process serves,
// uses the key in <data dir>/secret.key, generated on first start.
// Problems come back as *config.Error.
func OpenSecrets(cfg *config.Config, log *slog.Logger) (*secrets.Box, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.RequireSecretKey(); err != nil {
		return nil, err
	}
	key := cfg.SecretKey
	if key == "" {
		path := filepath.Join(cfg.DataDir, SecretKeyFile)
		var created bool
		var err error
		if key, created, err = secrets.LoadOrCreateKeyFile(path); err != nil {
			return nil, &config.Error{Setting: config.SecretKeySetting, Msg: "unset, and the key file: " + err.Error()}
		}
		if created {
			log.Info("generated the secret key that encrypts the secrets stored in the database; back it up with the database, which cannot be read without it",
				"path", path)
		}
	}
	box, err := secrets.New(key)
	if err != nil {
		return nil, &config.Error{Setting: config.SecretKeySetting, Msg: err.Error()}
	}
	return box, nil
}

// SealStoredSecrets encrypts, in one transaction, every secret that a
// version of berth before encryption stored in plaintext: webhook secrets
// and auth headers, token signing keys, the OIDC client secret and cookie
// key. It runs at every start and does nothing once they are encrypted.
func SealStoredSecrets(ctx context.Context, db *database.DB, box *secrets.Box, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	total := 0
	err := database.WithTx(ctx, db.Client, func(tx *ent.Tx) error {
		for _, seal := range []func(context.Context, *ent.Tx, *secrets.Box) (int, error){
			webhooks.SealPlaintext, token.SealPlaintextKeys, oidc.SealPlaintext,
		} {
			n, err := seal(ctx, tx, box)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("encrypting the secrets stored in plaintext: %w", err)
	}
	if total > 0 {
		log.InfoContext(ctx, "encrypted the secrets an earlier version stored in plaintext", "secrets", total)
	}
	return nil
}
