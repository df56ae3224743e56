package records

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/store"
)

func archiveOf(t *testing.T, head string, entries []store.AuditEntry, extra ...Member) []byte {
	t.Helper()
	text := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	members := append([]Member{
		{Name: ResultsName, Write: text("[]\n")},
		{Name: BoardName, Write: text(`{"trackers":["a","b"]}`)},
		{Name: AuditLogName, Write: func(w io.Writer) error { return audit.WriteLog(w, entries) }},
		{Name: AuditHeadName, Write: text(head + "\n")},
		{Name: ParticipationName, Write: text("voter_id,voted\n")},
	}, extra...)
	var buf bytes.Buffer
	if err := Write(&buf, Election{Name: "board", ClosedAt: time.Unix(1_900_000_000, 0)}, head, members); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriteReadVerify(t *testing.T) {
	entries := audit.Chain(0, audit.Genesis, []store.AuditRecord{{Kind: "opened", Data: []byte("{}")}, {Kind: "closed", Data: []byte("{}")}})
	head := entries[1].Hash
	good := archiveOf(t, head, entries)
	if again := archiveOf(t, head, entries); !bytes.Equal(good, again) {
		t.Fatal("the same records gave different bytes")
	}
	a, err := Read(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Verify()
	if err != nil || rep.Members != 5 || rep.AuditEntries != 2 || rep.Trackers != 2 || rep.AuditHead != head {
		t.Fatalf("report %+v, error %v", rep, err)
	}

	tests := map[string]struct {
		raw  []byte
		want string
	}{
		"head elsewhere": {archiveOf(t, entries[0].Hash, entries), "does not check"},
		"entry altered": {archiveOf(t, head, []store.AuditEntry{entries[0], {Seq: 2, Kind: "closed", Data: []byte(`{"x":1}`), PrevHash: entries[0].Hash, Hash: head}}),
			"was altered"},
		"belenios in a plain election": {archiveOf(t, head, entries, Member{Name: BeleniosName, Write: func(w io.Writer) error { return nil }}),
			"not verifiable"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := Read(bytes.NewReader(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Verify(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	if _, err := Read(strings.NewReader("not gzip")); err == nil {
		t.Error("a file that is not gzip was read")
	}
}

// A member whose second pass differs from its first is refused, never written
// with a wrong manifest.
func TestWriteRefusesAMemberThatChanges(t *testing.T) {
	n := 0
	changing := Member{Name: ResultsName, Write: func(w io.Writer) error {
		n++
		_, err := io.WriteString(w, strings.Repeat("x", n))
		return err
	}}
	err := Write(io.Discard, Election{}, "h", []Member{changing})
	if err == nil {
		t.Fatal("a member that changed between passes was written")
	}
}
