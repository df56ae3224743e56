// Command netcheck is the workload of the local cluster's network-policy check
// (hack/local-cluster/test-addons.sh): an HTTP server that answers with its host name, and a
// client that makes one bounded request, for `kubectl exec`. Standard library only, so it
// fits in a one-binary image made by hack/images.
//
//	netcheck serve [-listen :8080]     answer every request with "ok from HOSTNAME"
//	netcheck get [-timeout 3s] URL     one GET; exit 0 on a 2xx answer, 1 otherwise
//	netcheck idle                      block until SIGTERM (a client pod's main process)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		listen := fs.String("listen", ":8080", "address to listen on")
		_ = fs.Parse(os.Args[2:])
		serve(*listen)
	case "get":
		fs := flag.NewFlagSet("get", flag.ExitOnError)
		timeout := fs.Duration("timeout", 3*time.Second, "time allowed for the whole request")
		_ = fs.Parse(os.Args[2:])
		if fs.NArg() != 1 {
			usage()
		}
		os.Exit(get(fs.Arg(0), *timeout))
	case "idle":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		<-ctx.Done()
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: netcheck serve [-listen :8080] | get [-timeout 3s] URL | idle")
	os.Exit(2)
}

func serve(listen string) {
	host, _ := os.Hostname()
	srv := &http.Server{
		Addr:              listen,
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "ok from %s\n", host)
		}),
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "netcheck:", err)
		os.Exit(1)
	}
}

func get(url string, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "netcheck:", err)
		return 2
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Printf("FAIL %s after %s: %v\n", url, time.Since(start).Round(time.Millisecond), err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	fmt.Printf("%d %s in %s: %s", resp.StatusCode, url, time.Since(start).Round(time.Millisecond), body)
	if resp.StatusCode/100 != 2 {
		return 1
	}
	return 0
}
