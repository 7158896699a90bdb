package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-registry/berth/ent/garbagecollection"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/server"
	"github.com/berth-registry/berth/internal/viewer"
)

func newGCCommand() *cobra.Command {
	var req gc.Request
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Run garbage collection once, online (berth serve may keep running)",
		Long: `Deletes the blobs that no manifest references and that were last linked or
referenced longer than --gc-grace-period ago, files in the store without a
row, and upload directories without a session. Pushes and pulls go on
meanwhile. At most one collection runs at a time across every berth process
on the database; the run is recorded and shows in GraphQL and the portal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log := newLogger(cfg, cmd.ErrOrStderr())
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx = viewer.SystemContext(ctx)
			db, err := server.OpenDatabase(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			blobs, err := server.OpenStore(cfg)
			if err != nil {
				return err
			}
			content := artifacts.New(artifacts.Options{Client: db.Client, Blobs: blobs, Auth: auth.New(db.Client), Logger: log, Postgres: db.Kind == database.Postgres, Unsynced: db.UnsyncedClient()})
			defer content.Close()
			run, err := server.NewCollector(cfg, db, blobs, content, log).Run(ctx, req)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprint(out, run.Log)
			verb := "freed"
			if run.DryRun {
				verb = "would free"
			}
			fmt.Fprintf(out, "garbage collection %d %s: %s %d bytes in %d blobs, %d artifacts deleted\n",
				run.ID, run.Status, verb, run.BytesFreed, run.BlobsDeleted, run.ArtifactsDeleted)
			if run.Status != garbagecollection.StatusSUCCEEDED {
				return fmt.Errorf("garbage collection %d failed (see its log above)", run.ID)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&req.DryRun, "dry-run", false, "report what would be freed without deleting anything")
	cmd.Flags().BoolVar(&req.DeleteUntagged, "delete-untagged", false, "first delete artifacts with no tag that no index lists and that are not a referrer")
	return cmd
}
