package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestBoardDownloadOutlastsTheWriteTimeout: a board written through
// progressWriter reaches a client that reads steadily whole, though it takes
// longer than the server's write timeout, which still cuts off a plain
// answer as long.
func TestBoardDownloadOutlastsTheWriteTimeout(t *testing.T) {
	defer func(d time.Duration) { boardStall = d }(boardStall)
	boardStall = 2 * time.Second
	const size, chunk = 8 << 20, 64 << 10
	handler := func(progress bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var out io.Writer = w
			if progress {
				rc := http.NewResponseController(w)
				_ = rc.SetWriteDeadline(time.Now().Add(boardStall))
				out = &progressWriter{w: w, rc: rc}
			}
			buf := make([]byte, chunk)
			for written := 0; written < size; written += chunk {
				if _, err := out.Write(buf); err != nil {
					return
				}
				http.NewResponseController(w).Flush()
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	for _, c := range []struct {
		progress bool
		whole    bool
	}{{true, true}, {false, false}} {
		srv := httptest.NewUnstartedServer(handler(c.progress))
		srv.Config.WriteTimeout = 500 * time.Millisecond
		srv.Start()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		srv.Close()
		if (n == size) != c.whole {
			t.Errorf("progress %v: %d bytes of %d received", c.progress, n, size)
		}
	}
}
