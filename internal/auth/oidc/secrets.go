package oidc

import (
	"context"
	"encoding/json"
	"fmt"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/setting"
	"github.com/berth-registry/berth/internal/secrets"
	"github.com/berth-registry/berth/internal/viewer"
)

// The two secrets this package stores are sealed (see internal/secrets),
// each bound to its Setting row and field.
const (
	clientSecretAD = "setting " + settingsKey + " client_secret"
	cookieKeyAD    = "setting " + cookieKeySetting
)

// SealPlaintext encrypts, through tx, the client secret of stored
// settings and the sign-in cookie key that versions of berth before
// encryption stored in plaintext, and returns how many it encrypted; run
// again, it encrypts none. The rows keep their updated_at. On PostgreSQL
// it locks the rows it reads, so replicas starting together encrypt each
// value once.
func SealPlaintext(ctx context.Context, tx *ent.Tx, box *secrets.Box) (int, error) {
	sys := viewer.SystemContext(ctx)
	rows, err := tx.Setting.Query().Where(setting.KeyIn(settingsKey, cookieKeySetting), forUpdate).All(sys)
	if err != nil {
		return 0, fmt.Errorf("reading the OIDC settings: %w", err)
	}
	n := 0
	for _, row := range rows {
		value := row.Value
		switch row.Key {
		case cookieKeySetting:
			if secrets.Sealed(value) {
				continue
			}
			value = box.Seal(value, cookieKeyAD)
		case settingsKey:
			// Only the one field changes: every other byte of the stored
			// settings stays as it was.
			var fields map[string]json.RawMessage
			if err := json.Unmarshal([]byte(value), &fields); err != nil {
				return n, fmt.Errorf("decoding the stored OIDC settings: %w", err)
			}
			var secret string
			if raw, ok := fields["client_secret"]; ok {
				if err := json.Unmarshal(raw, &secret); err != nil {
					return n, fmt.Errorf("decoding the stored OIDC settings: %w", err)
				}
			}
			if secret == "" || secrets.Sealed(secret) {
				continue
			}
			fields["client_secret"], _ = json.Marshal(box.Seal(secret, clientSecretAD))
			raw, err := json.Marshal(fields)
			if err != nil {
				return n, err
			}
			value = string(raw)
		}
		if err := tx.Setting.UpdateOne(row).SetValue(value).SetUpdatedAt(row.UpdatedAt).Exec(sys); err != nil {
			return n, fmt.Errorf("encrypting setting %s: %w", row.Key, err)
		}
		n++
	}
	return n, nil
}

// forUpdate locks the rows a query reads until the transaction ends, on
// PostgreSQL (SQLite serialises writing transactions instead).
func forUpdate(s *entsql.Selector) {
	if s.Dialect() == dialect.Postgres {
		s.ForUpdate()
	}
}
