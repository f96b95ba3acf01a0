// Command ferretdb-testbed runs an embedded FerretDB v1 on one TCP address for
// docshift's test bed (scripts/testbed.sh). It is test infrastructure only.
//
// The embedded package (github.com/FerretDB/FerretDB/ferretdb) is used instead of
// `go install .../cmd/ferretdb`, whose binary panics at start on a missing
// build/version/version.txt. The embedded Config has no replica-set name (only the
// CLI's --repl-set-name has), so this server reports itself as a standalone.
//
// It runs until SIGINT or SIGTERM, then closes the listener and the backend.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func main() {
	addr := flag.String("listen-addr", "127.0.0.1:27102", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "storage handler: sqlite or postgresql")
	dataDir := flag.String("sqlite-dir", "", "directory for SQLite databases (sqlite handler); created if missing")
	sqliteParams := flag.String("sqlite-params", "",
		"query string appended to the SQLite URI, e.g. _pragma=synchronous(off) (sqlite handler)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL (postgresql handler), e.g. postgres://user@127.0.0.1:5433/ferretdb")
	// FerretDB logs every error reply (e.g. a driver's endSessions) at warn with a full
	// message dump, so the default is error: crashes and real failures only.
	logLevel := flag.String("log-level", "error", "log level: debug, info, warn, error")
	trimEvery := flag.Duration("oplog-trim-interval", 0,
		"if > 0, run `compact` on local.oplog.rs this often, which trims a capped oplog "+
			"back under its size (embedded FerretDB never trims capped collections by itself)")
	flag.Parse()

	if err := run(*addr, *handler, *dataDir, *sqliteParams, *pgURL, *logLevel, *trimEvery); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-testbed: %v\n", err)
		os.Exit(1)
	}
}

func run(addr, handler, dataDir, sqliteParams, pgURL, logLevel string, trimEvery time.Duration) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %w", logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: addr},
		Logger:   logger,
		Handler:  handler,
	}

	switch handler {
	case "sqlite":
		if dataDir == "" {
			return fmt.Errorf("-sqlite-dir is required with -handler=sqlite")
		}
		abs, err := filepath.Abs(dataDir)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return err
		}
		// FerretDB wants a "file:" URI naming a directory, with a trailing slash.
		cfg.SQLiteURL = "file:" + abs + "/"
		if sqliteParams != "" {
			cfg.SQLiteURL += "?" + sqliteParams
		}
	case "postgresql":
		if pgURL == "" {
			return fmt.Errorf("-postgresql-url is required with -handler=postgresql")
		}
		cfg.PostgreSQLURL = pgURL
	default:
		return fmt.Errorf("unknown -handler %q (want sqlite or postgresql)", handler)
	}

	f, err := ferretdb.New(cfg)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	fmt.Fprintf(os.Stderr, "ferretdb-testbed: FerretDB v1.24 (%s) listening on %s, pid %d\n", handler, addr, os.Getpid())
	if trimEvery > 0 {
		go trimOplog(ctx, addr, trimEvery)
	}
	err = f.Run(ctx)
	fmt.Fprintf(os.Stderr, "ferretdb-testbed: stopped (pid %d)\n", os.Getpid())
	return err
}

// trimOplog keeps a capped local.oplog.rs near its size. FerretDB v1 enforces a capped
// collection's size only in a cleanup pass (every 10% over the cap, it deletes the
// oldest 10% of documents); the CLI runs that pass on a timer, but the embedded package
// never does, so without this the oplog grows without bound. The `compact` command runs
// the same pass. A missing oplog (NamespaceNotFound) is not an error: testbed.sh creates
// it after the server is up.
func trimOplog(ctx context.Context, addr string, every time.Duration) {
	client, err := mongo.Connect(ctx, options.Client().
		ApplyURI("mongodb://"+addr+"/?directConnection=true").
		SetAppName("ferretdb-testbed-oplog-trim"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-testbed: oplog trim disabled: %v\n", err)
		return
	}
	defer client.Disconnect(context.Background()) //nolint:errcheck // best effort at exit

	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, every+time.Minute)
		err := client.Database("local").RunCommand(cctx, bson.D{{Key: "compact", Value: "oplog.rs"}}).Err()
		cancel()
		var ce mongo.CommandError
		if err != nil && ctx.Err() == nil && !(errors.As(err, &ce) && ce.Code == 26) {
			fmt.Fprintf(os.Stderr, "ferretdb-testbed: oplog trim: %v\n", err)
		}
	}
}
