package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The tag is the image's digest: the same files must give the same bytes, and every
// file needs its parent directories (containerd's unpacker creates none for us).
func TestTarOfIsReproducible(t *testing.T) {
	files := []file{{path: "app", mode: 0o555, data: []byte("binary")}, {path: caPath, mode: 0o444, data: []byte("certs")}}
	a, err := tarOf(files)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tarOf(files)
	if !bytes.Equal(a, b) {
		t.Fatal("two layers of the same files differ")
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(a))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != 0 {
			t.Errorf("%s: owner %d:%d, time %v; want root and the epoch", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		names = append(names, h.Name)
	}
	want := []string{"app", "etc/", "etc/ssl/", "etc/ssl/certs/", caPath}
	if len(names) != len(want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("entries %v, want %v", names, want)
		}
	}
}

func TestSplitNamed(t *testing.T) {
	for arg, want := range map[string]struct {
		name, value string
		ok          bool
	}{
		"coredns=bin/coredns/coredns-v1.15.0": {"coredns", "bin/coredns/coredns-v1.15.0", true},
		"manager=.":                           {"manager", ".", true},
		"a=b=c":                               {"a", "b=c", true},
		"coredns":                             {},
		"=bin/x":                              {},
		"coredns=":                            {},
		"dir/coredns=bin/x":                   {}, // the name is the binary's path in the image
		"..=bin/x":                            {},
	} {
		name, value, err := splitNamed(arg, "FILE")
		if (err == nil) != want.ok || name != want.name || value != want.value {
			t.Errorf("splitNamed(%q) = %q, %q, %v; want %q, %q, ok %v", arg, name, value, err, want.name, want.value, want.ok)
		}
	}
	var b namedFiles
	if err := b.Set("coredns=/tmp/coredns"); err != nil || len(b) != 1 || b[0] != (namedFile{"coredns", "/tmp/coredns"}) {
		t.Errorf("-binary coredns=/tmp/coredns gave %v, %v", b, err)
	}
	if err := b.Set("coredns"); err == nil {
		t.Error("-binary coredns (no file) accepted")
	}
}

// elfFile is a minimal 64-bit ELF executable for machine, with program headers of the
// given types (no code: static only reads the headers).
func elfFile(t *testing.T, machine elf.Machine, progs ...elf.ProgType) []byte {
	t.Helper()
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Phentsize: 56, Phnum: uint16(len(progs)), Shentsize: 64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	if len(progs) > 0 {
		h.Phoff = 64
	}
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	for _, p := range progs {
		if err := binary.Write(&buf, binary.LittleEndian, elf.Prog64{Type: uint32(p), Align: 8}); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// -binary takes a file built elsewhere: one that could not run in an image with no
// base is refused at build time, not found out as "no such file or directory" in a pod.
func TestStatic(t *testing.T) {
	native, ok := machines[runtime.GOARCH]
	if !ok {
		t.Skipf("no ELF machine known for %s", runtime.GOARCH)
	}
	other := elf.EM_AARCH64
	if native == other {
		other = elf.EM_X86_64
	}
	for what, c := range map[string]struct {
		data []byte
		ok   bool
	}{
		"static":             {elfFile(t, native, elf.PT_LOAD, elf.PT_NOTE), true},
		"dynamic":            {elfFile(t, native, elf.PT_PHDR, elf.PT_INTERP, elf.PT_LOAD), false},
		"other architecture": {elfFile(t, other, elf.PT_LOAD), false},
		"not ELF":            {[]byte("#!/bin/sh\necho hello\n"), false},
		"empty":              {nil, false},
	} {
		if err := static(c.data); (err == nil) != c.ok {
			t.Errorf("%s: static() = %v, want ok %v", what, err, c.ok)
		}
	}
}

// An image of a given binary: the same bytes give the same reference wherever it is
// written (the cache of hack/local-cluster.sh relies on it), other bytes another one;
// the binary is /NAME, its entrypoint, run as the non-root user.
func TestWriteBinaryImage(t *testing.T) {
	data := []byte("a static binary")
	dir1, dir2 := t.TempDir(), t.TempDir()
	ref1, err := write(dir1, "scrutin.local", "coredns", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref2, err := write(dir2, "scrutin.local", "coredns", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ref1 != ref2 {
		t.Errorf("the same binary gave %s and %s", ref1, ref2)
	}
	if !strings.HasPrefix(ref1, "scrutin.local/coredns:") || len(ref1) != len("scrutin.local/coredns:")+12 {
		t.Errorf("reference %s, want scrutin.local/coredns:<12 hex digits>", ref1)
	}
	if other, err := write(t.TempDir(), "scrutin.local", "coredns", []byte("another binary"), nil); err != nil || other == ref1 {
		t.Errorf("another binary gave %s (%v), the same as %s", other, err, ref1)
	}

	tag, err := name.NewTag(ref1)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(filepath.Join(dir1, "coredns.tar"), &tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Config.Entrypoint; len(got) != 1 || got[0] != "/coredns" || cfg.Config.User != nonRoot || cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("config: entrypoint %v, user %q, platform %s/%s; want [/coredns], %q, linux/%s",
			got, cfg.Config.User, cfg.OS, cfg.Architecture, nonRoot, runtime.GOARCH)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(tr)
	if h.Name != "coredns" || h.Mode != 0o555 || !bytes.Equal(got, data) {
		t.Errorf("layer holds %s (mode %o, %q), want coredns (mode 555, %q)", h.Name, h.Mode, got, data)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("layer holds more than the binary (no CA bundle was given): %v", err)
	}
}
