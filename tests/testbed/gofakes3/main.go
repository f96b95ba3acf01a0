// Command gofakes3-testbed serves an in-memory S3 API (gofakes3 v1.2.0, MIT) on one TCP
// address for docshift's test bed (scripts/testbed.sh). It is test infrastructure only.
//
// Buckets are created on first use (WithAutoBucket), so a test can pick any bucket name.
// It runs until SIGINT or SIGTERM, then shuts the HTTP server down.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	addr := flag.String("listen-addr", "127.0.0.1:27107", "TCP address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintf(os.Stderr, "gofakes3-testbed: %v\n", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	faker := gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: faker.Server(), ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("gofakes3-testbed: serving S3 on http://%s", addr)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case s := <-sigs:
		log.Printf("gofakes3-testbed: %v, shutting down", s)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}
}
