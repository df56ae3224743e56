package belenios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The archive (.bel) is how Belenios publishes a board: an old-style tar written
// record by record (hand-made 512-byte headers, no ustar magic, no end-of-archive
// blocks), whose first record, BELENIOS, holds the archive header and whose other
// records are named after the SHA-256 of their bodies, data records followed by
// the event that references them, the events chained by their parents' hashes.
// belenios-tool's verifier regenerates the whole file from the last event and
// compares it byte for byte, so the writer follows Belenios's own writer exactly
// and the reader accepts only what that regeneration would give back.

const blockSize = 512

// ArchiveHeaderName is the name of the archive's first record.
const ArchiveHeaderName = "BELENIOS"

// archive phases, in the only order the writer accepts them.
const (
	phaseSetup   = iota // nothing after the header yet
	phaseBallots        // setup written: ballots
	phaseClosed         // EndBallots written: the encrypted tally
	phaseTallied        // tally written: partial decryptions, the result
	phaseResult         // result written: nothing more
)

// ErrArchiveOrder is returned when a record is written out of Belenios's order
// (setup, ballots, EndBallots, encrypted tally, partial decryptions, result).
var ErrArchiveOrder = errors.New("belenios: archive record out of order")

// ArchiveWriter writes a board as Belenios's archive, record by record, as
// belenios-tool writes it: the same input gives the same bytes.
type ArchiveWriter struct {
	w         io.Writer
	timestamp int64
	phase     int
	parent    string // hex SHA-256 of the last event written, "" before Setup
	height    int    // height of the last event written, -1 before Setup
	block     [blockSize]byte
}

// NewArchiveWriter writes the archive header (the BELENIOS record, whose mtime and
// timestamp are timestamp, Unix seconds, as every later record's mtime) to w.
func NewArchiveWriter(w io.Writer, timestamp int64) (*ArchiveWriter, error) {
	if timestamp < 0 {
		return nil, fmt.Errorf("belenios: archive timestamp %d is negative", timestamp)
	}
	a := &ArchiveWriter{w: w, timestamp: timestamp, height: -1}
	header, err := Marshal(ArchiveHeader{Version: 1, Timestamp: strconv.FormatInt(timestamp, 10)})
	if err != nil {
		return nil, err
	}
	if err := a.record(ArchiveHeaderName, header); err != nil {
		return nil, err
	}
	return a, nil
}

// Setup writes the three setup records (the election record exactly as
// published, the trustees and the public credentials), the setup_data that names
// them and the Setup event.
func (a *ArchiveWriter) Setup(election, trustees, credentials []byte) error {
	setup, err := Marshal(SetupData{
		Election:    SHA256Hex(election),
		Trustees:    SHA256Hex(trustees),
		Credentials: SHA256Hex(credentials),
	})
	if err != nil {
		return err
	}
	return a.setup(election, trustees, credentials, setup)
}

func (a *ArchiveWriter) setup(election, trustees, credentials, setup []byte) error {
	if a.phase != phaseSetup {
		return fmt.Errorf("%w: setup written already", ErrArchiveOrder)
	}
	for _, body := range [][]byte{election, trustees, credentials, setup} {
		if err := a.data(body); err != nil {
			return err
		}
	}
	if err := a.event(EventSetup, SHA256Hex(setup)); err != nil {
		return err
	}
	a.phase = phaseBallots
	return nil
}

// Ballot writes a ballot exactly as received and its Ballot event.
func (a *ArchiveWriter) Ballot(ballot []byte) error {
	if a.phase != phaseBallots {
		return fmt.Errorf("%w: a ballot outside the voting phase", ErrArchiveOrder)
	}
	if err := a.data(ballot); err != nil {
		return err
	}
	return a.event(EventBallot, SHA256Hex(ballot))
}

// EndBallots writes the EndBallots event: the box is closed.
func (a *ArchiveWriter) EndBallots() error {
	if a.phase != phaseBallots {
		return fmt.Errorf("%w: EndBallots outside the voting phase", ErrArchiveOrder)
	}
	if err := a.event(EventEndBallots, ""); err != nil {
		return err
	}
	a.phase = phaseClosed
	return nil
}

// EncryptedTally writes the encrypted tally record, the sized tally naming it
// (the writer fills sized.EncryptedTally) and the EncryptedTally event.
func (a *ArchiveWriter) EncryptedTally(tally []byte, sized SizedEncryptedTally) error {
	sized.EncryptedTally = SHA256Hex(tally)
	s, err := Marshal(sized)
	if err != nil {
		return err
	}
	return a.encryptedTally(tally, s)
}

func (a *ArchiveWriter) encryptedTally(tally, sized []byte) error {
	if a.phase != phaseClosed {
		return fmt.Errorf("%w: the encrypted tally comes once, right after EndBallots", ErrArchiveOrder)
	}
	if err := a.data(tally); err != nil {
		return err
	}
	if err := a.data(sized); err != nil {
		return err
	}
	if err := a.event(EventEncryptedTally, SHA256Hex(sized)); err != nil {
		return err
	}
	a.phase = phaseTallied
	return nil
}

// PartialDecryption writes a trustee's partial decryption, the owned record
// naming it with its owner (1-based) and the PartialDecryption event.
func (a *ArchiveWriter) PartialDecryption(owner int, pd []byte) error {
	if owner < 1 {
		return fmt.Errorf("belenios: trustee owner %d: owners count from 1", owner)
	}
	owned, err := Marshal(Owned{Owner: owner, Payload: SHA256Hex(pd)})
	if err != nil {
		return err
	}
	return a.partialDecryption(pd, owned)
}

func (a *ArchiveWriter) partialDecryption(pd, owned []byte) error {
	if a.phase != phaseTallied {
		return fmt.Errorf("%w: a partial decryption before the tally or after the result", ErrArchiveOrder)
	}
	if err := a.data(pd); err != nil {
		return err
	}
	if err := a.data(owned); err != nil {
		return err
	}
	return a.event(EventPartialDecryption, SHA256Hex(owned))
}

// Result writes the result and its Result event; nothing may follow.
func (a *ArchiveWriter) Result(result []byte) error {
	if a.phase != phaseTallied {
		return fmt.Errorf("%w: the result comes once, after the tally", ErrArchiveOrder)
	}
	if err := a.data(result); err != nil {
		return err
	}
	if err := a.event(EventResult, SHA256Hex(result)); err != nil {
		return err
	}
	a.phase = phaseResult
	return nil
}

// Head is the hex SHA-256 of the last event written and its height ("" and -1
// before Setup).
func (a *ArchiveWriter) Head() (eventHex string, height int) { return a.parent, a.height }

func (a *ArchiveWriter) data(body []byte) error {
	return a.record(SHA256Hex(body)+".data.json", body)
}

func (a *ArchiveWriter) event(typ, payload string) error {
	ev := Event{Parent: a.parent, Height: a.height + 1, Type: typ, Payload: payload}
	body, err := Marshal(ev)
	if err != nil {
		return err
	}
	h := SHA256Hex(body)
	if err := a.record(h+".event.json", body); err != nil {
		return err
	}
	a.parent, a.height = h, ev.Height
	return nil
}

// record writes one tar record: its header, then its body padded with NUL to a
// whole number of blocks (nothing for an empty body).
func (a *ArchiveWriter) record(name string, body []byte) error {
	b := &a.block
	if err := fillHeader(b, name, int64(len(body)), a.timestamp); err != nil {
		return err
	}
	if _, err := a.w.Write(b[:]); err != nil {
		return err
	}
	full := len(body) / blockSize * blockSize
	if full > 0 {
		if _, err := a.w.Write(body[:full]); err != nil {
			return err
		}
	}
	if rest := body[full:]; len(rest) > 0 {
		clear(b[:])
		copy(b[:], rest)
		if _, err := a.w.Write(b[:]); err != nil {
			return err
		}
	}
	return nil
}

// maxOctal11 is the largest value 11 octal digits hold.
const maxOctal11 = 1<<33 - 1

// fillHeader makes b the header Belenios writes (src/lib/core/archive.ml): name,
// mode 0000644, uid and gid 0000000, size and mtime in 11 octal digits, type '0',
// the checksum over the block with its own field as spaces, written "%06o\0 ";
// every other byte NUL.
func fillHeader(b *[blockSize]byte, name string, size, mtime int64) error {
	if len(name) == 0 || len(name) >= 100 {
		return fmt.Errorf("belenios: archive record name %q", name)
	}
	if size > maxOctal11 || mtime > maxOctal11 {
		return errors.New("belenios: archive record size or timestamp too large")
	}
	clear(b[:])
	copy(b[0:], name)
	copy(b[100:], "0000644")
	copy(b[108:], "0000000")
	copy(b[116:], "0000000")
	copy(b[124:], fmt.Sprintf("%011o", size))
	copy(b[136:], fmt.Sprintf("%011o", mtime))
	copy(b[148:], "        ")
	b[156] = '0'
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return nil
}

// ArchiveError is a defect of an archive's structure: where it is, and what.
type ArchiveError struct {
	Offset int64 // byte offset of the record's header
	Msg    string
}

func (e *ArchiveError) Error() string {
	return fmt.Sprintf("belenios: archive at byte %d: %s", e.Offset, e.Msg)
}

// Step is one event of an archive with the data records it references, in the
// archive's order:
//   - Setup: election, trustees, public credentials, setup_data
//   - Ballot: the ballot
//   - EndBallots: nothing
//   - EncryptedTally: the encrypted tally, the sized encrypted tally
//   - PartialDecryption: the partial decryption, the owned record
//   - Result: the result
type Step struct {
	Event Event
	// Hash is the hex SHA-256 of the event record.
	Hash string
	Data [][]byte
	// Owner is the trustee of a PartialDecryption (1-based).
	Owner int
	// Sized is the sized encrypted tally of an EncryptedTally.
	Sized *SizedEncryptedTally
}

// ArchiveReader reads an archive step by step (one event and its data), checking
// as it goes everything belenios-tool's fsck checks by regenerating the archive:
// every header exactly as the writer makes it (names, sizes, the timestamp of the
// archive header, checksums, NUL padding), every name the SHA-256 of its body,
// the events canonical, chained parent to child from height 0, each referencing
// the data records right before it in Belenios's layout, nothing unreferenced,
// and the order setup, ballots, EndBallots, tally, partial decryptions, result.
type ArchiveReader struct {
	r         io.Reader
	off       int64
	timestamp int64
	header    ArchiveHeader
	phase     int
	parent    string
	height    int
	block     [blockSize]byte
	want      [blockSize]byte
}

// NewArchiveReader reads and checks the archive header of r.
func NewArchiveReader(r io.Reader) (*ArchiveReader, error) {
	a := &ArchiveReader{r: r, height: -1}
	name, body, err := a.rawRecord(-1)
	if err != nil {
		return nil, err
	}
	if name != ArchiveHeaderName {
		return nil, &ArchiveError{0, fmt.Sprintf("the first record is %q, not %s", name, ArchiveHeaderName)}
	}
	var h ArchiveHeader
	if err := UnmarshalStrict(body, &h); err != nil {
		return nil, &ArchiveError{0, "archive header: " + err.Error()}
	}
	if h.Version != 1 {
		return nil, &ArchiveError{0, fmt.Sprintf("archive version %d (only 1 is known)", h.Version)}
	}
	ts, err := strconv.ParseInt(h.Timestamp, 10, 64)
	if err != nil || ts < 0 || strconv.FormatInt(ts, 10) != h.Timestamp {
		return nil, &ArchiveError{0, fmt.Sprintf("archive timestamp %q", h.Timestamp)}
	}
	if canon, _ := Marshal(h); !bytes.Equal(canon, body) {
		return nil, &ArchiveError{0, "archive header not in canonical form"}
	}
	// The header record's own mtime must be the timestamp too.
	if err := a.checkHeader(0, name, int64(len(body)), ts); err != nil {
		return nil, err
	}
	a.timestamp, a.header = ts, h
	return a, nil
}

// Header is the archive header (version, timestamp).
func (a *ArchiveReader) Header() ArchiveHeader { return a.header }

// Timestamp is the archive's timestamp, Unix seconds.
func (a *ArchiveReader) Timestamp() int64 { return a.timestamp }

// Head is the hash and height of the last event read ("" and -1 before any).
func (a *ArchiveReader) Head() (eventHex string, height int) { return a.parent, a.height }

// Next reads the next event and its data records; io.EOF at the archive's end
// (which must fall right after an event).
func (a *ArchiveReader) Next() (*Step, error) {
	var data [][]byte
	for {
		start := a.off
		name, body, err := a.rawRecord(a.timestamp)
		if err == io.EOF {
			if len(data) > 0 {
				return nil, &ArchiveError{start, fmt.Sprintf("the archive ends with %d data record(s) no event references", len(data))}
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		hash, kind, ok := splitRecordName(name)
		if !ok {
			return nil, &ArchiveError{start, fmt.Sprintf("record name %q is not <sha256>.data.json or <sha256>.event.json", name)}
		}
		if SHA256Hex(body) != hash {
			return nil, &ArchiveError{start, fmt.Sprintf("record %s: its body's SHA-256 is %s", name, SHA256Hex(body))}
		}
		if kind == "data" {
			if len(data) == 4 {
				return nil, &ArchiveError{start, "more data records than any event references"}
			}
			data = append(data, body)
			continue
		}
		step, err := a.step(start, hash, body, data)
		if err != nil {
			return nil, err
		}
		return step, nil
	}
}

func splitRecordName(name string) (hash, kind string, ok bool) {
	if len(name) != 64+len(".data.json") && len(name) != 64+len(".event.json") {
		return "", "", false
	}
	hash, rest := name[:64], name[64:]
	for _, c := range []byte(hash) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", "", false
		}
	}
	switch rest {
	case ".data.json":
		return hash, "data", true
	case ".event.json":
		return hash, "event", true
	}
	return "", "", false
}

// step checks an event against the chain, the phase and the data before it.
func (a *ArchiveReader) step(off int64, hash string, body []byte, data [][]byte) (*Step, error) {
	fail := func(format string, args ...any) (*Step, error) {
		return nil, &ArchiveError{off, fmt.Sprintf(format, args...)}
	}
	var ev Event
	if err := UnmarshalStrict(body, &ev); err != nil {
		return fail("event: %v", err)
	}
	if canon, err := Marshal(ev); err != nil || !bytes.Equal(canon, body) {
		return fail("event not in canonical form")
	}
	if ev.Parent != a.parent || ev.Height != a.height+1 {
		return fail("inconsistency at height %d: the event's parent or height does not follow the previous event", a.height+1)
	}
	wantData := map[string]int{EventSetup: 4, EventBallot: 1, EventEndBallots: 0,
		EventEncryptedTally: 2, EventPartialDecryption: 2, EventResult: 1}
	n, known := wantData[ev.Type]
	if !known {
		return fail("event type %q (Scrutin's boards hold only homomorphic questions)", ev.Type)
	}
	if len(data) != n {
		return fail("%s event after %d data record(s), not %d", ev.Type, len(data), n)
	}
	if n == 0 && ev.Payload != "" {
		return fail("extra payload in %s event", ev.Type)
	}
	if n > 0 && ev.Payload != SHA256Hex(data[n-1]) {
		return fail("%s event's payload is not the data record before it", ev.Type)
	}
	step := &Step{Event: ev, Hash: hash, Data: data}
	next := a.phase
	switch ev.Type {
	case EventSetup:
		if a.phase != phaseSetup {
			return fail("a second Setup event")
		}
		var sd SetupData
		if err := UnmarshalStrict(data[3], &sd); err != nil {
			return fail("setup_data: %v", err)
		}
		if sd.Election != SHA256Hex(data[0]) || sd.Trustees != SHA256Hex(data[1]) || sd.Credentials != SHA256Hex(data[2]) {
			return fail("setup_data does not name the election, trustees and credentials records before it")
		}
		next = phaseBallots
	case EventBallot:
		if a.phase != phaseBallots {
			return fail("a ballot outside the voting phase")
		}
	case EventEndBallots:
		if a.phase != phaseBallots {
			return fail("EndBallots outside the voting phase")
		}
		next = phaseClosed
	case EventEncryptedTally:
		if a.phase != phaseClosed {
			return fail("the encrypted tally is not right after EndBallots")
		}
		var s SizedEncryptedTally
		if err := UnmarshalStrict(data[1], &s); err != nil {
			return fail("sized encrypted tally: %v", err)
		}
		if s.EncryptedTally != SHA256Hex(data[0]) {
			return fail("the sized encrypted tally does not name the record before it")
		}
		step.Sized = &s
		next = phaseTallied
	case EventPartialDecryption:
		if a.phase != phaseTallied {
			return fail("a partial decryption before the tally or after the result")
		}
		var o Owned
		if err := UnmarshalStrict(data[1], &o); err != nil {
			return fail("owned record: %v", err)
		}
		if o.Payload != SHA256Hex(data[0]) {
			return fail("the owned record does not name the partial decryption before it")
		}
		if o.Owner < 1 {
			return fail("partial decryption owner %d", o.Owner)
		}
		step.Owner = o.Owner
	case EventResult:
		if a.phase != phaseTallied {
			return fail("the result before the tally, or twice")
		}
		next = phaseResult
	}
	a.phase, a.parent, a.height = next, hash, ev.Height
	return step, nil
}

// rawRecord reads one record: a header, which must be exactly the one the writer
// makes (with mtime timestamp, or any mtime when timestamp is -1: the archive
// header's, checked by the caller), and the body with its NUL padding. io.EOF
// when the input ends before a header.
func (a *ArchiveReader) rawRecord(timestamp int64) (string, []byte, error) {
	start := a.off
	n, err := io.ReadFull(a.r, a.block[:])
	a.off += int64(n)
	if err == io.EOF {
		return "", nil, io.EOF
	}
	if err != nil {
		return "", nil, &ArchiveError{start, "truncated record header"}
	}
	nul := bytes.IndexByte(a.block[:100], 0)
	if nul <= 0 {
		return "", nil, &ArchiveError{start, "record header without a name (end-of-archive blocks or garbage)"}
	}
	name := string(a.block[:nul])
	size, err := strconv.ParseInt(string(a.block[124:135]), 8, 64)
	if err != nil || size < 0 {
		return "", nil, &ArchiveError{start, fmt.Sprintf("record %q: bad size field", name)}
	}
	mtime := timestamp
	if mtime < 0 {
		if mtime, err = strconv.ParseInt(string(a.block[136:147]), 8, 64); err != nil {
			return "", nil, &ArchiveError{start, fmt.Sprintf("record %q: bad mtime field", name)}
		}
	}
	if err := a.checkHeader(start, name, size, mtime); err != nil {
		return "", nil, err
	}
	const maxRecord = 64 << 20
	if size > maxRecord {
		return "", nil, &ArchiveError{start, fmt.Sprintf("record %q of %d bytes is larger than any board record", name, size)}
	}
	padded := (size + blockSize - 1) / blockSize * blockSize
	buf := make([]byte, padded)
	n, err = io.ReadFull(a.r, buf)
	a.off += int64(n)
	if err != nil {
		return "", nil, &ArchiveError{start, fmt.Sprintf("record %q: truncated body", name)}
	}
	for _, c := range buf[size:] {
		if c != 0 {
			return "", nil, &ArchiveError{start, fmt.Sprintf("record %q: padding is not NUL", name)}
		}
	}
	return name, buf[:size], nil
}

// checkHeader compares the block just read with the header the writer makes.
func (a *ArchiveReader) checkHeader(off int64, name string, size, mtime int64) error {
	if err := fillHeader(&a.want, name, size, mtime); err != nil {
		return &ArchiveError{off, err.Error()}
	}
	if a.want != a.block {
		return &ArchiveError{off, fmt.Sprintf("record %q: header is not the one Belenios writes (mode, owner, mtime or checksum)", name)}
	}
	return nil
}

// Archive is a whole board, read and checked by ReadArchive. Records are
// exactly as in the archive.
type Archive struct {
	Header      ArchiveHeader
	Timestamp   int64
	Election    []byte
	Trustees    []byte
	Credentials []byte
	SetupData   []byte
	// Ballots in board order (every ballot, superseded ones too).
	Ballots    [][]byte
	EndBallots bool
	// EncryptedTally, SizedRaw and Sized are set once the tally is on the board.
	EncryptedTally     []byte
	SizedRaw           []byte
	Sized              *SizedEncryptedTally
	PartialDecryptions []OwnedPartialDecryption
	Result             []byte
	// Head is the hash of the last event and Height its height.
	Head   string
	Height int
}

// OwnedPartialDecryption is a trustee's partial decryption as on the board, with
// the owned record that names it.
type OwnedPartialDecryption struct {
	Owner    int
	Raw      []byte
	OwnedRaw []byte
}

// ReadArchive reads and checks a whole archive (see ArchiveReader); it keeps
// every record in memory.
func ReadArchive(r io.Reader) (*Archive, error) {
	ar, err := NewArchiveReader(r)
	if err != nil {
		return nil, err
	}
	out := &Archive{Header: ar.Header(), Timestamp: ar.Timestamp()}
	for {
		s, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch s.Event.Type {
		case EventSetup:
			out.Election, out.Trustees, out.Credentials, out.SetupData = s.Data[0], s.Data[1], s.Data[2], s.Data[3]
		case EventBallot:
			out.Ballots = append(out.Ballots, s.Data[0])
		case EventEndBallots:
			out.EndBallots = true
		case EventEncryptedTally:
			out.EncryptedTally, out.SizedRaw, out.Sized = s.Data[0], s.Data[1], s.Sized
		case EventPartialDecryption:
			out.PartialDecryptions = append(out.PartialDecryptions,
				OwnedPartialDecryption{Owner: s.Owner, Raw: s.Data[0], OwnedRaw: s.Data[1]})
		case EventResult:
			out.Result = s.Data[0]
		}
	}
	out.Head, out.Height = ar.Head()
	if out.Height < 0 {
		return nil, &ArchiveError{ar.off, "the archive has no event"}
	}
	return out, nil
}

// WriteArchive writes a (as ReadArchive gives it) with the ArchiveWriter, its
// records verbatim: the archive read gives back the same bytes.
func WriteArchive(w io.Writer, a *Archive) error {
	if a.Election == nil || a.SetupData == nil {
		return errors.New("belenios: an archive without its setup")
	}
	aw, err := NewArchiveWriter(w, a.Timestamp)
	if err != nil {
		return err
	}
	if err := aw.setup(a.Election, a.Trustees, a.Credentials, a.SetupData); err != nil {
		return err
	}
	for _, b := range a.Ballots {
		if err := aw.Ballot(b); err != nil {
			return err
		}
	}
	if !a.EndBallots {
		return nil
	}
	if err := aw.EndBallots(); err != nil {
		return err
	}
	if a.SizedRaw == nil {
		return nil
	}
	if err := aw.encryptedTally(a.EncryptedTally, a.SizedRaw); err != nil {
		return err
	}
	for _, pd := range a.PartialDecryptions {
		if err := aw.partialDecryption(pd.Raw, pd.OwnedRaw); err != nil {
			return err
		}
	}
	if a.Result != nil {
		return aw.Result(a.Result)
	}
	return nil
}
