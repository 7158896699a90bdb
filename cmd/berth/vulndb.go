package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/scan/vulndb"
	"github.com/berth-registry/berth/internal/server"
	"github.com/berth-registry/berth/internal/viewer"
)

func newVulndbCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vulndb",
		Short: "Manage the offline vulnerability database (OSV records)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "import PATH|URL...",
		Short: "Import OSV records from JSON files, directories of them or all.zip exports, on disk or at http(s) URLs",
		Long: `Imports OSV records (https://ossf.github.io/osv-schema/) into berth's database:
a JSON file holds one record, a directory every *.json file below it, and a
zip every *.json file in it, such as the per-ecosystem all.zip exports of
osv.dev (for example Debian/all.zip, Alpine/all.zip, Go/all.zip). An
http(s) URL is downloaded whole first (at most 2 GiB, within 30 minutes;
private addresses and HTTPS_PROXY allowed) and imported as the zip or JSON
file its bytes say it is, e.g.
https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip. A failed
download, or a truncated or damaged zip, writes nothing. A record replaces
the stored one with the same id only when its modified time is newer;
withdrawn records are removed. Importing the same files again changes
nothing, so a periodic import of fresh exports keeps the database current
(berth serve does it itself with --vulndb-url). berth serve may keep
running.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withVulndb(cmd, func(ctx context.Context, db *database.DB) error {
				began := time.Now()
				res, err := vulndb.Import(ctx, db.Client, args...)
				fmt.Fprintf(cmd.OutOrStdout(), "read %d records in %s: %d added, %d updated, %d unchanged, %d withdrawn\n",
					res.Read, time.Since(began).Round(time.Millisecond), res.Added, res.Updated, res.Unchanged, res.Withdrawn)
				return err
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show the records of each ecosystem and when they were last updated",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withVulndb(cmd, func(ctx context.Context, db *database.DB) error {
				list, err := vulndb.Status(ctx, db.Client)
				if err != nil {
					return err
				}
				if len(list) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "the vulnerability database is empty: import records with berth vulndb import")
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ECOSYSTEM\tRECORDS\tNEWEST RECORD\tUPDATED")
				for _, e := range list {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", e.Ecosystem, e.Records,
						e.LastModified.UTC().Format(time.RFC3339), e.UpdatedAt.UTC().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	})
	return cmd
}

// withVulndb opens the database and runs fn as berth itself, until fn
// returns or the process is interrupted (an import stops between records;
// the batches committed stay).
func withVulndb(cmd *cobra.Command, fn func(ctx context.Context, db *database.DB) error) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = viewer.SystemContext(ctx)
	db, err := server.OpenDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(ctx, db)
}
