// Package records is the format of an election's records archive: what an
// organiser keeps for the legal retention period once the election is tallied.
//
// The archive is a gzip-compressed tar file. Its first member, manifest.json,
// names the election and lists every other member with its size and SHA-256;
// the members follow in the manifest's order:
//
//	manifest.json      {"format":"scrutin-records/1","election":{...},"auditHead":"sha256:…","members":[…]}
//	results.json       the counts per question
//	board.json         {"trackers":[…]}: every counted ballot's tracker, sorted
//	audit.jsonl        the audit log, one entry a line (audit.WriteLog)
//	audit-head.txt     the hash at the head of the audit chain
//	participation.csv  who voted, never how, with the columns the Election allows
//	board.bel          in verifiable mode: the Belenios archive of the board
//
// The same records give the same bytes: every header's time is the election's
// close, no owner is recorded and gzip's header carries no name nor time. No
// member holds a credential, a code, a token or a key: the runtime's store keeps
// only their hashes, and no member is made from those.
package records

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"time"
)

// Format names this version of the archive's layout.
const Format = "scrutin-records/1"

// Member names.
const (
	ManifestName      = "manifest.json"
	ResultsName       = "results.json"
	BoardName         = "board.json"
	AuditLogName      = "audit.jsonl"
	AuditHeadName     = "audit-head.txt"
	ParticipationName = "participation.csv"
	BeleniosName      = "board.bel"
)

// Election identifies the election the records are of.
type Election struct {
	Namespace  string    `json:"namespace"`
	Name       string    `json:"name"`
	UID        string    `json:"uid"`
	Title      string    `json:"title"`
	Verifiable bool      `json:"verifiable"`
	ClosedAt   time.Time `json:"closedAt"`
}

// Manifest is the archive's first member.
type Manifest struct {
	Format    string   `json:"format"`
	Election  Election `json:"election"`
	AuditHead string   `json:"auditHead"`
	Members   []Entry  `json:"members"`
}

// Entry is one member of the archive, as the manifest lists it.
type Entry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // "sha256:" and the hex digest
}

// Member is a member to write: Write writes its bytes, the same on every call
// (the archive is written in two passes, the first for the manifest's digests).
type Member struct {
	Name  string
	Write func(w io.Writer) error
}

// Write writes the archive of the members, manifest first. Each member is
// generated twice: once to digest it, once into the archive; a member whose
// second pass differs from its first is an error, never a wrong manifest.
func Write(w io.Writer, el Election, auditHead string, members []Member) error {
	m := Manifest{Format: Format, Election: el, AuditHead: auditHead}
	for _, mem := range members {
		d := newDigester()
		if err := mem.Write(d); err != nil {
			return fmt.Errorf("while making %s: %w", mem.Name, err)
		}
		m.Members = append(m.Members, Entry{Name: mem.Name, Size: d.n, SHA256: d.sum()})
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	manifest = append(manifest, '\n')

	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	mtime := el.ClosedAt.UTC().Truncate(time.Second)
	header := func(name string, size int64) error {
		return tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o444, ModTime: mtime, Format: tar.FormatPAX,
		})
	}
	if err := header(ManifestName, int64(len(manifest))); err != nil {
		return err
	}
	if _, err := tw.Write(manifest); err != nil {
		return err
	}
	for i, mem := range members {
		want := m.Members[i]
		if err := header(mem.Name, want.Size); err != nil {
			return err
		}
		d := newDigester()
		if err := mem.Write(io.MultiWriter(tw, d)); err != nil {
			return fmt.Errorf("while writing %s: %w", mem.Name, err)
		}
		if d.n != want.Size || d.sum() != want.SHA256 {
			return fmt.Errorf("%s changed while the archive was written", mem.Name)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// digester counts and hashes what is written to it.
type digester struct {
	h hash.Hash
	n int64
}

func newDigester() *digester { return &digester{h: sha256.New()} }

func (d *digester) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return d.h.Write(p)
}

func (d *digester) sum() string { return "sha256:" + hex.EncodeToString(d.h.Sum(nil)) }

// Digest is "sha256:" and the hex SHA-256 of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}
