package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-registry/berth/ent/user"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/secrets"
	"github.com/berth-registry/berth/internal/server"
	"github.com/berth-registry/berth/internal/viewer"
)

func newAdminCommand() *cobra.Command {
	admin := &cobra.Command{Use: "admin", Short: "Administer users directly in the database"}
	userCmd := &cobra.Command{Use: "user", Short: "Create, list and reset local users"}
	admin.AddCommand(userCmd)

	var email, password string
	var isAdmin bool
	create := &cobra.Command{
		Use:   "create USERNAME",
		Short: "Create a local user (password from --password-stdin or BERTH_NEW_PASSWORD)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAuth(cmd, func(ctx context.Context, a *auth.Service, _ *database.DB) error {
				pw, err := readPassword(cmd, password)
				if err != nil {
					return err
				}
				u, err := a.CreateUser(ctx, auth.UserInput{Username: args[0], Password: pw, Email: email, Admin: isAdmin})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created user %q (id %d, admin %t)\n", u.Username, u.ID, u.Admin)
				return nil
			})
		},
	}
	create.Flags().StringVar(&email, "email", "", "email address")
	create.Flags().BoolVar(&isAdmin, "system-admin", false, "make the user a system administrator")
	create.Flags().StringVar(&password, "password-stdin", "", "read the password from standard input (pass -)")
	create.Flags().Lookup("password-stdin").NoOptDefVal = "-"

	passwd := &cobra.Command{
		Use:   "passwd USERNAME",
		Short: "Set a user's password (from --password-stdin or BERTH_NEW_PASSWORD)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAuth(cmd, func(ctx context.Context, a *auth.Service, _ *database.DB) error {
				pw, err := readPassword(cmd, password)
				if err != nil {
					return err
				}
				if err := a.SetPassword(ctx, args[0], pw); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "password of %q changed\n", args[0])
				return nil
			})
		},
	}
	passwd.Flags().StringVar(&password, "password-stdin", "", "read the password from standard input (pass -)")
	passwd.Flags().Lookup("password-stdin").NoOptDefVal = "-"

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAuth(cmd, func(ctx context.Context, _ *auth.Service, db *database.DB) error {
				users, err := db.User.Query().Order(user.ByUsername()).All(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tADMIN\tDISABLED")
				for _, u := range users {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%t\n", u.ID, u.Username, u.Email, u.Admin, u.Disabled)
				}
				return tw.Flush()
			})
		},
	}
	userCmd.AddCommand(create, passwd, list)
	admin.AddCommand(&cobra.Command{
		Use:   "rotate-token-key",
		Short: "Sign registry tokens with a new key; the old one verifies until its tokens expire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSecrets(cmd, func(ctx context.Context, db *database.DB, box *secrets.Box) error {
				kid, err := token.RotateKey(ctx, db.Client, box, token.KeyKeep)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "registry tokens are now signed with key %s; running servers switch within 30 seconds, and tokens signed before stay valid until they expire\n", kid)
				return nil
			})
		},
	})
	return admin
}

// withAuth opens the database and runs fn as berth itself.
func withAuth(cmd *cobra.Command, fn func(ctx context.Context, a *auth.Service, db *database.DB) error) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	db, err := server.OpenDatabase(context.Background(), cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(viewer.SystemContext(context.Background()), auth.New(db.Client), db)
}

// withSecrets opens the database and the box of stored secrets (see
// server.OpenSecrets), encrypts what an earlier version left in
// plaintext, and runs fn as berth itself.
func withSecrets(cmd *cobra.Command, fn func(ctx context.Context, db *database.DB, box *secrets.Box) error) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	log := newLogger(cfg, cmd.ErrOrStderr())
	box, err := server.OpenSecrets(cfg, log)
	if err != nil {
		return err
	}
	ctx := viewer.SystemContext(context.Background())
	db, err := server.OpenDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := server.SealStoredSecrets(ctx, db, box, log); err != nil {
		return err
	}
	return fn(ctx, db, box)
}

func readPassword(cmd *cobra.Command, flag string) (string, error) {
	if flag == "-" {
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && line == "" {
			return "", usageError{fmt.Errorf("reading the password from standard input: %w", err)}
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if pw := os.Getenv("BERTH_NEW_PASSWORD"); pw != "" {
		return pw, nil
	}
	return "", usageError{fmt.Errorf("give the password with --password-stdin or BERTH_NEW_PASSWORD")}
}
