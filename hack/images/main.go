// Command images builds container images of Scrutin's Go programs without Docker or
// a base image: each image is one layer holding a static binary (and, with
// -ca-bundle, the CA certificates), run as a non-root user. It writes each image as
// a tarball that `ctr images import` takes, and prints NAME=REFERENCE per image.
//
//	go run ./hack/images -out _output/images -ca-bundle /etc/ssl/certs/ca-certificates.crt \
//	    manager=. voting-runtime=./voting-runtime/cmd/voting-runtime
//
// The tag is the start of the image's digest, so an image that did not change keeps
// its reference, and a changed one can never be mistaken for the old one by a node
// that already holds it (pods use imagePullPolicy IfNotPresent; nothing is pulled).
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// nonRoot is the user of every image: the uid the controller runs the runtime as,
// and the one Pod Security `restricted` accepts without a passwd file.
const nonRoot = "65532:65532"

// caPath is where Go's crypto/x509 looks first on Linux.
const caPath = "etc/ssl/certs/ca-certificates.crt"

func main() {
	out := flag.String("out", "_output/images", "Directory of the image tarballs (NAME.tar).")
	repo := flag.String("repo", "scrutin.local", "Registry part of the references; nothing is pushed there.")
	caBundle := flag.String("ca-bundle", "", "CA certificates file to put at /"+caPath+" (for TLS to mail, SMS and database servers); none when empty.")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags] NAME=GO_PACKAGE ...\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	var ca []byte
	if *caBundle != "" {
		var err error
		if ca, err = os.ReadFile(*caBundle); err != nil {
			fail(err)
		}
	}
	for _, arg := range flag.Args() {
		imgName, pkg, ok := strings.Cut(arg, "=")
		if !ok || imgName == "" || pkg == "" {
			fail(fmt.Errorf("%q is not NAME=GO_PACKAGE", arg))
		}
		ref, err := build(*out, *repo, imgName, pkg, ca)
		if err != nil {
			fail(fmt.Errorf("%s: %w", imgName, err))
		}
		fmt.Printf("%s=%s\n", imgName, ref)
	}
}

func build(out, repo, imgName, pkg string, ca []byte) (string, error) {
	bin := filepath.Join(out, imgName+".bin")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	// Static, for the image's own architecture (the node's).
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w", pkg, err)
	}
	defer os.Remove(bin)
	binary, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	files := []file{{path: imgName, mode: 0o555, data: binary}}
	if ca != nil {
		files = append(files, file{path: caPath, mode: 0o444, data: ca})
	}
	layerTar, err := tarOf(files)
	if err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return "", err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = runtime.GOARCH, "linux"
	cfg.Config = v1.Config{
		Entrypoint: []string{"/" + imgName},
		User:       nonRoot,
		WorkingDir: "/",
		Env:        []string{"PATH=/"},
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return "", err
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	tag, err := name.NewTag(fmt.Sprintf("%s/%s:%s", repo, imgName, digest.Hex[:12]))
	if err != nil {
		return "", err
	}
	if err := tarball.WriteToFile(filepath.Join(out, imgName+".tar"), tag, img); err != nil {
		return "", err
	}
	return tag.String(), nil
}

type file struct {
	path string
	mode int64
	data []byte
}

// tarOf writes the files, with their parent directories, owned by root and dated
// at the epoch, so that the same files always give the same layer and tag.
func tarOf(files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dirs := map[string]bool{}
	for _, f := range files {
		var parents []string
		for d := filepath.Dir(f.path); d != "."; d = filepath.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.path, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "images:", err)
	os.Exit(1)
}
