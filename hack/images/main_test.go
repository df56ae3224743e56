package main

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
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
