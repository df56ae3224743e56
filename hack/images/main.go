// Command images builds container images of Scrutin's Go programs without Docker or
// a base image: each image is one layer holding a static binary (and, with
// -ca-bundle, the CA certificates), run as a non-root user. It writes each image as
// a tarball that `ctr images import` takes, and prints NAME=REFERENCE per image.
//
//	go run ./hack/images -out _output/images -ca-bundle /etc/ssl/certs/ca-certificates.crt \
//	    manager=. voting-runtime=./voting-runtime/cmd/voting-runtime
//
// A program of another module (a tools module under hack/tools, such as CoreDNS) is
// built there with its own go.mod and given as a ready binary, which must be static:
//
//	go run ./hack/images -out _output/images -binary coredns=bin/coredns/coredns-v1.15.0
//
// The tag is the start of the image's digest, so an image that did not change keeps
// its reference, and a changed one can never be mistaken for the old one by a node
// that already holds it (pods use imagePullPolicy IfNotPresent; nothing is pulled).
package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
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
	var binaries namedFiles
	flag.Var(&binaries, "binary", "NAME=FILE: an image of a binary already built (static, for this architecture), such as a tools module's; repeatable.")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags] [NAME=GO_PACKAGE ...]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 && len(binaries) == 0 {
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
		imgName, pkg, err := splitNamed(arg, "GO_PACKAGE")
		if err != nil {
			fail(err)
		}
		ref, err := build(*out, *repo, imgName, pkg, ca)
		if err != nil {
			fail(fmt.Errorf("%s: %w", imgName, err))
		}
		fmt.Printf("%s=%s\n", imgName, ref)
	}
	for _, b := range binaries {
		binary, err := os.ReadFile(b.file)
		if err == nil {
			err = static(binary)
		}
		if err != nil {
			fail(fmt.Errorf("%s: %w", b.name, err))
		}
		ref, err := write(*out, *repo, b.name, binary, ca)
		if err != nil {
			fail(fmt.Errorf("%s: %w", b.name, err))
		}
		fmt.Printf("%s=%s\n", b.name, ref)
	}
}

// namedFile is a -binary argument: the image NAME, and the FILE that becomes /NAME.
type namedFile struct{ name, file string }

// namedFiles collects the repeated -binary flags.
type namedFiles []namedFile

func (n *namedFiles) String() string {
	var s []string
	for _, f := range *n {
		s = append(s, f.name+"="+f.file)
	}
	return strings.Join(s, ",")
}

func (n *namedFiles) Set(arg string) error {
	name, f, err := splitNamed(arg, "FILE")
	if err != nil {
		return err
	}
	*n = append(*n, namedFile{name: name, file: f})
	return nil
}

// splitNamed splits NAME=VALUE; the name becomes the image's name, its binary's path
// and its entrypoint, so it must be a single path element.
func splitNamed(arg, what string) (string, string, error) {
	name, value, ok := strings.Cut(arg, "=")
	if !ok || name == "" || value == "" || strings.ContainsAny(name, "/:") || name == "." || name == ".." {
		return "", "", fmt.Errorf("%q is not NAME=%s", arg, what)
	}
	return name, value, nil
}

// machines: the ELF machine of the architectures checked by static.
var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// static refuses what cannot run in an image with no base: anything but an ELF
// executable for this architecture, or one that asks for a dynamic loader (a Go
// program built without CGO_ENABLED=0 that uses net or os/user), which would fail
// in the pod with a bare "no such file or directory".
func static(binary []byte) error {
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	if want := machines[runtime.GOARCH]; want != 0 && f.Machine != want {
		return fmt.Errorf("built for %v, not %s", f.Machine, runtime.GOARCH)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("dynamically linked (build it with CGO_ENABLED=0)")
		}
	}
	return nil
}

// build compiles the package, static, and writes its image.
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
	return write(out, repo, imgName, binary, ca)
}

// write makes the image of the binary (at /NAME, its entrypoint) and writes it to
// OUT/NAME.tar, tagged REPO/NAME:<start of its digest>; it returns that reference.
func write(out, repo, imgName string, binary, ca []byte) (string, error) {
	img, err := image(imgName, binary, ca)
	if err != nil {
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

// image is the one-layer image of the binary, run as nonRoot.
func image(imgName string, binary, ca []byte) (v1.Image, error) {
	files := []file{{path: imgName, mode: 0o555, data: binary}}
	if ca != nil {
		files = append(files, file{path: caPath, mode: 0o444, data: ca})
	}
	layerTar, err := tarOf(files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = runtime.GOARCH, "linux"
	cfg.Config = v1.Config{
		Entrypoint: []string{"/" + imgName},
		User:       nonRoot,
		WorkingDir: "/",
		Env:        []string{"PATH=/"},
	}
	return mutate.ConfigFile(img, cfg)
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
