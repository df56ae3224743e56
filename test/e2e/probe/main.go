// Command probe is the e2e tests' network probe, run as a pod: `probe tcp
// HOST:PORT` exits 0 when a TCP connection opens within 3 seconds, 1 when it does
// not; `probe get URL` prints an HTTP GET's body; `probe forward LISTEN TARGET`
// relays HTTP with X-Forwarded-For, as an ingress would: the tests' voters reach an
// election's Service through it, from a namespace its NetworkPolicy admits. It has
// no shell and needs no privilege, so it runs under the restricted Pod Security
// Standard.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "forward" {
		forward(os.Args[2], os.Args[3])
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: probe tcp HOST:PORT | probe get URL | probe forward LISTEN TARGET")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "tcp":
		c, err := net.DialTimeout("tcp", os.Args[2], 3*time.Second)
		if err != nil {
			fmt.Println("refused:", err)
			os.Exit(1)
		}
		c.Close()
		fmt.Println("connected")
	case "get":
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(os.Args[2])
		if err != nil {
			fmt.Println("failed:", err)
			os.Exit(1)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(os.Stdout, resp.Body)
	default:
		os.Exit(2)
	}
}

// forward serves HTTP on listen and passes every request to target (host:port),
// adding the client's address to X-Forwarded-For, as an ingress controller does:
// the runtime's per-address limit then counts voters, not the ingress.
func forward(listen, target string) {
	to := &url.URL{Scheme: "http", Host: target}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(to)
		// The tests' host plays the load balancer in front of this ingress: the
		// voter's address it declares is kept, as an ingress behind a trusted
		// balancer does; otherwise the address of whoever connected.
		if xff := pr.In.Header.Get("X-Forwarded-For"); xff != "" {
			pr.Out.Header.Set("X-Forwarded-For", xff)
		} else {
			pr.SetXForwarded()
		}
	}}
	fmt.Println("forwarding", listen, "to", target)
	srv := &http.Server{Addr: listen, Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
