// Command probe is the e2e tests' network probe, run as a pod: `probe tcp
// HOST:PORT` exits 0 when a TCP connection opens within 3 seconds, 1 when it does
// not; `probe get URL` prints an HTTP GET's body. It has
// no shell and needs no privilege, so it runs under the restricted Pod Security
// Standard.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: probe tcp HOST:PORT | probe get URL")
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
