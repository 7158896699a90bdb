package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/secrets"
	"github.com/berth-registry/berth/internal/server"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "berth is a container and artifact registry with a GraphQL API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	config.AddFlags(root.PersistentFlags())
	root.AddCommand(newServeCommand(), newMigrateCommand(), newAdminCommand(), newGCCommand(), newVulndbCommand(), newVersionCommand())
	return root
}

// loadConfig reads the configuration of cmd's flags and the environment.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	return config.Load(cmd.Flags(), os.Getenv)
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func newServeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the registry, GraphQL and the portal",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log := newLogger(cfg, os.Stderr)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := server.New(ctx, cfg, server.Options{Version: version, Logger: log, Out: cmd.OutOrStdout()})
			if err != nil {
				return err
			}
			defer srv.Close()
			return srv.Run(ctx, func(addr net.Addr) {
				log.Info("berth is serving", "addr", addr.String(), "url", cfg.PublicURL(), "version", version)
				fmt.Fprintf(cmd.OutOrStdout(), "berth %s listening on %s (%s)\n", version, addr, cfg.PublicURL())
			})
		},
	}
}

func newMigrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database schema migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Opening the database migrates it; opening the secrets
			// encrypts what an earlier version stored in plaintext.
			return withSecrets(cmd, func(_ context.Context, db *database.DB, _ *secrets.Box) error {
				fmt.Fprintf(cmd.OutOrStdout(), "%s schema is up to date\n", db.Kind)
				return nil
			})
		},
	}
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "berth %s\n", version)
		},
	}
}
