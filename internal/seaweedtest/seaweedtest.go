// Package seaweedtest runs a real S3-compatible server for tests: SeaweedFS
// (weed server with its filer and S3 gateway) on 127.0.0.1, on free ports, with
// one identity and one bucket. The binary is hack/build-seaweedfs.sh's,
// bin/seaweedfs-<version> (SCRUTIN_SEAWEEDFS names another); without it the
// test is skipped with the command that builds it (`make test-archive`).
package seaweedtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"scrutin.dev/scrutin/internal/controlplane"
)

// Version is the SeaweedFS module version hack/build-seaweedfs.sh builds.
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

// Server is a running SeaweedFS with its S3 gateway.
type Server struct {
	Endpoint        string // http://127.0.0.1:PORT
	AccessKeyID     string
	SecretAccessKey string
	Bucket          string
}

// Binary is the SeaweedFS binary's path, or "" when it is not built.
func Binary() string {
	if p := os.Getenv("SCRUTIN_SEAWEEDFS"); p != "" {
		return p
	}
	root, err := controlplane.Root()
	if err != nil {
		return ""
	}
	p := filepath.Join(root, "bin", "seaweedfs-"+Version)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Start runs SeaweedFS until the test ends and makes bucket.
func Start(t *testing.T, bucket string) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("SeaweedFS is not built: `make test-archive` builds it (hack/build-seaweedfs.sh) and runs this test")
	}
	dir := t.TempDir()
	s := &Server{AccessKeyID: "scrutin-test", SecretAccessKey: "scrutin-test-secret", Bucket: bucket}
	cfg := fmt.Sprintf(`{"identities":[{"name":"tenant","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`,
		s.AccessKeyID, s.SecretAccessKey)
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t, 8)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "-dir="+data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+p[0], "-master.port.grpc="+p[1], "-volume.port="+p[2], "-volume.port.grpc="+p[3],
		"-filer", "-filer.port="+p[4], "-filer.port.grpc="+p[5], "-filer.localSocket="+filepath.Join(dir, "filer.sock"),
		"-s3", "-s3.port="+p[6], "-s3.port.grpc="+p[7], "-s3.config="+filepath.Join(dir, "s3.json"),
		"-master.volumeSizeLimitMB=64", "-volume.max=4")
	log, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log.Close()
	})
	s.Endpoint = "http://127.0.0.1:" + p[6]
	c, err := minio.New("127.0.0.1:"+p[6], &minio.Options{Creds: credentials.NewStaticV4(s.AccessKeyID, s.SecretAccessKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
		cancel()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("SeaweedFS's S3 gateway did not make bucket %s within 60 s: %v\n%s", bucket, err, tail(out))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// freePorts are n TCP ports free on 127.0.0.1 right now.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var ls []net.Listener
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}
