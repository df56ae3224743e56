package pgtest

import (
	"net"
	"testing"
	"time"
)

// ClosedPort is a port of 127.0.0.1 that nothing listens on: a connection to it is
// refused at once.
func ClosedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// NotPostgres serves another protocol on a port of 127.0.0.1, until the test ends:
// each connection is greeted with banner, answered with banner again when it sends
// anything within 2 s, and closed. It returns the port: a DSN pointing at it makes a
// client meet a server that is not PostgreSQL and says so in its own words.
func NotPostgres(t testing.TB, banner string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = c.Write([]byte(banner))
				buf := make([]byte, 1024)
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.Read(buf); err == nil {
					_, _ = c.Write([]byte(banner))
				}
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}
