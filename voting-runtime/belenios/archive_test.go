package belenios

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// rewriteWithWriter writes a's events again with the ArchiveWriter's public
// methods, from the records' meaning (the sized tally and the owners parsed, not
// copied): what the runtime does from its store.
func rewriteWithWriter(t testing.TB, a *Archive) ([]byte, *ArchiveWriter) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewArchiveWriter(&buf, a.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Setup(a.Election, a.Trustees, a.Credentials))
	for _, b := range a.Ballots {
		must(w.Ballot(b))
	}
	if a.EndBallots {
		must(w.EndBallots())
	}
	if a.Sized != nil {
		must(w.EncryptedTally(a.EncryptedTally, SizedEncryptedTally{NumTallied: a.Sized.NumTallied, TotalWeight: a.Sized.TotalWeight}))
	}
	for _, pd := range a.PartialDecryptions {
		must(w.PartialDecryption(pd.Owner, pd.Raw))
	}
	if a.Result != nil {
		must(w.Result(a.Result))
	}
	return buf.Bytes(), w
}

func readToolArchive(t testing.TB) (*toolElection, *Archive) {
	t.Helper()
	e := beleniosToolElection(t)
	a, err := ReadArchive(bytes.NewReader(e.Archive))
	if err != nil {
		t.Fatalf("ReadArchive on belenios-tool's own archive: %v", err)
	}
	return e, a
}

func TestArchiveWriterReproducesBeleniosToolArchiveByteForByte(t *testing.T) {
	e, a := readToolArchive(t)
	if len(a.Ballots) != len(toolCasts) || !a.EndBallots || a.Sized == nil || len(a.PartialDecryptions) != 1 || a.Result == nil {
		t.Fatalf("ReadArchive gave %d ballots, end %v, sized %v, %d partial decryptions, result %q",
			len(a.Ballots), a.EndBallots, a.Sized, len(a.PartialDecryptions), a.Result)
	}
	if a.Sized.NumTallied != 3 || a.Sized.TotalWeight != 5 {
		t.Errorf("sized tally %+v, want 3 ballots tallied (alice's first superseded) of total weight 5", *a.Sized)
	}
	if a.PartialDecryptions[0].Owner != 1 {
		t.Errorf("partial decryption owner %d, want 1", a.PartialDecryptions[0].Owner)
	}
	var res Result
	if err := UnmarshalStrict(a.Result, &res); err != nil {
		t.Fatal(err)
	}
	if got, want := mustMarshal(t, res), mustMarshal(t, Result{Result: e.Want}); !bytes.Equal(got, want) {
		t.Errorf("belenios-tool's result %s, want %s", got, want)
	}
	var el Election
	if err := UnmarshalStrict(a.Election, &el); err != nil || el.UUID != e.UUID {
		t.Fatalf("election record %q (uuid %q): %v", a.Election, e.UUID, err)
	}

	ours, w := rewriteWithWriter(t, a)
	if !bytes.Equal(ours, e.Archive) {
		t.Fatalf("our archive (%d bytes) differs from belenios-tool's (%d bytes) at byte %d",
			len(ours), len(e.Archive), firstDiff(ours, e.Archive))
	}
	head, height := w.Head()
	if head != a.Head || height != a.Height || height != len(toolCasts)+4 {
		t.Errorf("writer head %s/%d, reader head %s/%d", head, height, a.Head, a.Height)
	}
	if v := toolVerify(t, ours); !v.Passed() {
		t.Fatalf("belenios-tool election verify on our archive: exit %d\n%s", v.Code, v.Output)
	}
}

func TestWriteArchiveRoundTripsReadArchive(t *testing.T) {
	e, a := readToolArchive(t)
	var buf bytes.Buffer
	if err := WriteArchive(&buf, a); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), e.Archive) {
		t.Fatalf("WriteArchive(ReadArchive(x)) differs from x at byte %d", firstDiff(buf.Bytes(), e.Archive))
	}
}

// Every stage of a board is an archive belenios-tool accepts: the runtime
// publishes the board while it grows.
func TestArchivePrefixesPassBeleniosToolVerify(t *testing.T) {
	_, full := readToolArchive(t)
	stages := map[string]func(a *Archive){
		"setup only": func(a *Archive) {
			a.Ballots, a.EndBallots, a.Sized, a.SizedRaw, a.PartialDecryptions, a.Result = nil, false, nil, nil, nil, nil
		},
		"ballots, box open": func(a *Archive) {
			a.EndBallots, a.Sized, a.SizedRaw, a.PartialDecryptions, a.Result = false, nil, nil, nil, nil
		},
		"tally and partial decryption, no result": func(a *Archive) { a.Result = nil },
	}
	for name, cut := range stages {
		t.Run(name, func(t *testing.T) {
			a := *full
			cut(&a)
			b, _ := rewriteWithWriter(t, &a)
			if v := toolVerify(t, b); !v.Passed() {
				t.Fatalf("belenios-tool election verify: exit %d\n%s", v.Code, v.Output)
			}
			back, err := ReadArchive(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Ballots) != len(a.Ballots) || back.EndBallots != a.EndBallots || (back.Result == nil) != (a.Result == nil) {
				t.Errorf("ReadArchive gave back %d ballots, end %v, result %q", len(back.Ballots), back.EndBallots, back.Result)
			}
		})
	}
}

// tampering is one way to spoil a good board. Structural ones break the archive
// itself (ReadArchive refuses them); the others are well-formed archives whose
// content is wrong (only a verifier finds them).
type tampering struct {
	Name       string
	Structural bool
	Spoil      func(t testing.TB, good []byte, a *Archive) []byte
}

// rewritten spoils a copy of the archive's content and writes it again with
// valid hashes and chain.
func rewritten(change func(t testing.TB, a *Archive)) func(testing.TB, []byte, *Archive) []byte {
	return func(t testing.TB, _ []byte, a *Archive) []byte {
		c := *a
		c.Ballots = append([][]byte(nil), a.Ballots...)
		change(t, &c)
		var buf bytes.Buffer
		if err := WriteArchive(&buf, &c); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
}

// changeDigit changes the digit 5 places after the first occurrence of key in b.
func changeDigit(t testing.TB, b []byte, key string) []byte {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		t.Fatalf("%q not found", key)
	}
	out := bytes.Clone(b)
	j := i + len(key) + 5
	out[j] = '0' + (out[j]-'0'+1)%10
	return out
}

var tamperings = []tampering{
	{Name: "one byte of a ballot, hashes left", Structural: true, Spoil: func(t testing.TB, good []byte, a *Archive) []byte {
		i := bytes.Index(good, a.Ballots[1])
		if i < 0 {
			t.Fatal("ballot not found in the archive")
		}
		out := bytes.Clone(good)
		j := i + bytes.Index(a.Ballots[1], []byte(`"alpha":"`)) + len(`"alpha":"`) + 5
		out[j] = '0' + (out[j]-'0'+1)%10
		return out
	}},
	{Name: "one byte of a ballot's ciphertext, rehashed", Spoil: rewritten(func(t testing.TB, a *Archive) {
		a.Ballots[1] = changeDigit(t, a.Ballots[1], `"alpha":"`)
	})},
	{Name: "one byte of a ballot's signature, rehashed", Spoil: rewritten(func(t testing.TB, a *Archive) {
		a.Ballots[2] = changeDigit(t, a.Ballots[2], `"proof":{"challenge":"`)
	})},
	{Name: "a counted ballot dropped", Spoil: rewritten(func(t testing.TB, a *Archive) {
		a.Ballots = append(a.Ballots[:2], a.Ballots[3:]...)
	})},
	{Name: "the result changed", Spoil: rewritten(func(t testing.TB, a *Archive) {
		var r Result
		if err := UnmarshalStrict(a.Result, &r); err != nil {
			t.Fatal(err)
		}
		r.Result[0][1]++
		a.Result = mustMarshal(t, r)
	})},
	{Name: "a ballot's event dropped, record left", Structural: true, Spoil: func(t testing.TB, good []byte, a *Archive) []byte {
		return withoutEvent(t, a, 2)
	}},
	{Name: "end-of-archive zero blocks appended", Structural: true, Spoil: func(t testing.TB, good []byte, a *Archive) []byte {
		return append(bytes.Clone(good), make([]byte, 2*blockSize)...)
	}},
	{Name: "written with Go's archive/tar", Structural: true, Spoil: func(t testing.TB, good []byte, a *Archive) []byte {
		return withGoTar(t, good)
	}},
	{Name: "a record's mtime changed", Structural: true, Spoil: func(t testing.TB, good []byte, a *Archive) []byte {
		out := bytes.Clone(good)
		// The second record's header: its mtime, then a checksum that matches it.
		h := blockSize * 2
		var b [blockSize]byte
		copy(b[:], out[h:h+blockSize])
		name := string(b[:bytes.IndexByte(b[:], 0)])
		size := int64(len(a.Election))
		if err := fillHeader(&b, name, size, a.Timestamp+1); err != nil {
			t.Fatal(err)
		}
		copy(out[h:], b[:])
		return out
	}},
}

// withoutEvent writes a's records but leaves out the event at that height (its
// data stays): an unreferenced record and a broken chain.
func withoutEvent(t testing.TB, a *Archive, height int) []byte {
	var buf bytes.Buffer
	w, err := NewArchiveWriter(&buf, a.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Setup(a.Election, a.Trustees, a.Credentials); err != nil {
		t.Fatal(err)
	}
	for i, b := range a.Ballots {
		if i+1 == height {
			if err := w.data(b); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := w.Ballot(b); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// withGoTar is the same records written by archive/tar (ustar headers and the
// end-of-archive blocks).
func withGoTar(t testing.TB, good []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for off := 0; off < len(good); {
		var b [blockSize]byte
		copy(b[:], good[off:off+blockSize])
		name := string(b[:bytes.IndexByte(b[:], 0)])
		var size int64
		for _, c := range bytes.TrimRight(b[124:135], "\x00") {
			size = size*8 + int64(c-'0')
		}
		body := good[off+blockSize : off+blockSize+int(size)]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
		off += blockSize + int((size+blockSize-1)/blockSize*blockSize)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The tampered boards fail belenios-tool's verifier: the tests that rely on it
// can fail.
func TestBeleniosToolRejectsTamperedArchives(t *testing.T) {
	e, a := readToolArchive(t)
	for _, tc := range tamperings {
		t.Run(tc.Name, func(t *testing.T) {
			bad := tc.Spoil(t, e.Archive, a)
			if bytes.Equal(bad, e.Archive) {
				t.Fatal("the tampering changed nothing")
			}
			v := toolVerify(t, bad)
			if v.Code != 124 {
				t.Fatalf("belenios-tool election verify: exit %d, want 124\n%s", v.Code, v.Output)
			}
			t.Logf("belenios-tool: %s", strings.TrimSpace(v.Output))
			_, err := ReadArchive(bytes.NewReader(bad))
			if tc.Structural && err == nil {
				t.Errorf("ReadArchive accepted an archive belenios-tool's fsck refuses")
			}
			if !tc.Structural && err != nil {
				t.Errorf("ReadArchive refused a well-formed archive: %v", err)
			}
		})
	}
}

func TestArchiveWriterRefusesRecordsOutOfOrder(t *testing.T) {
	_, a := readToolArchive(t)
	w, err := NewArchiveWriter(io.Discard, a.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	order := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrArchiveOrder) {
			t.Errorf("%s: %v, want ErrArchiveOrder", what, err)
		}
	}
	order("a ballot before the setup", w.Ballot(a.Ballots[0]))
	order("EndBallots before the setup", w.EndBallots())
	if err := w.Setup(a.Election, a.Trustees, a.Credentials); err != nil {
		t.Fatal(err)
	}
	order("a second setup", w.Setup(a.Election, a.Trustees, a.Credentials))
	order("a tally before EndBallots", w.EncryptedTally(a.EncryptedTally, *a.Sized))
	order("a partial decryption before the tally", w.PartialDecryption(1, a.PartialDecryptions[0].Raw))
	order("a result before the tally", w.Result(a.Result))
	if err := w.EndBallots(); err != nil {
		t.Fatal(err)
	}
	order("a ballot after EndBallots", w.Ballot(a.Ballots[0]))
	if err := w.EncryptedTally(a.EncryptedTally, *a.Sized); err != nil {
		t.Fatal(err)
	}
	if err := w.Result(a.Result); err != nil {
		t.Fatal(err)
	}
	order("a partial decryption after the result", w.PartialDecryption(1, a.PartialDecryptions[0].Raw))
	order("a second result", w.Result(a.Result))
}

func TestReadArchiveRefusesTruncation(t *testing.T) {
	e, _ := readToolArchive(t)
	for _, cut := range []int{100, blockSize, blockSize * 3, len(e.Archive) - blockSize, len(e.Archive) - 1} {
		if _, err := ReadArchive(bytes.NewReader(e.Archive[:cut])); err == nil {
			t.Errorf("ReadArchive accepted the archive cut at %d of %d bytes", cut, len(e.Archive))
		}
	}
	// Cut right after an event: a shorter, valid board.
	a, err := ReadArchive(bytes.NewReader(e.Archive))
	if err != nil {
		t.Fatal(err)
	}
	a.Result = nil
	var buf bytes.Buffer
	if err := WriteArchive(&buf, a); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(e.Archive, buf.Bytes()) {
		t.Fatal("the board without its result is not a prefix of the board")
	}
	if _, err := ReadArchive(bytes.NewReader(buf.Bytes())); err != nil {
		t.Errorf("ReadArchive refused the board cut after an event: %v", err)
	}
}

func TestFillHeaderMatchesBeleniosLayout(t *testing.T) {
	var b [blockSize]byte
	if err := fillHeader(&b, ArchiveHeaderName, 38, 1796236234); err != nil {
		t.Fatal(err)
	}
	// The header belenios-tool 2.0 wrote for an archive of that timestamp.
	want := "BELENIOS" + strings.Repeat("\x00", 92) + "0000644\x000000000\x000000000\x00" +
		"00000000046\x0015304061712\x00" + "005707\x00 0"
	if got := string(b[:157]); got != want {
		t.Fatalf("header\n%q\nwant\n%q", got, want)
	}
	if strings.Trim(string(b[157:]), "\x00") != "" {
		t.Fatal("bytes after the type flag are not all NUL")
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
