package audit

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// The exported log is JSON Lines: one entry per line, in sequence order, e.g.
//
//	{"seq":1,"kind":"roll-imported","data":"{\"digest\":\"sha256:…\",\"voters\":3}","prevHash":"sha256:0000…","hash":"sha256:…"}
//
// "data" holds the entry's data as text, byte for byte, when it is valid UTF-8
// (it always is for the runtime's canonical JSON); otherwise "dataBase64" holds it in
// standard base64. `voting-runtime verify-audit --export FILE` writes it; ReadLog
// reads it back exactly, so that Verify gives the same answer on the file as on the
// store.
type exported struct {
	Seq        int64  `json:"seq"`
	Kind       string `json:"kind"`
	Data       string `json:"data,omitempty"`
	DataBase64 string `json:"dataBase64,omitempty"`
	PrevHash   string `json:"prevHash"`
	Hash       string `json:"hash"`
}

// WriteLog writes entries as JSON Lines.
func WriteLog(w io.Writer, entries []store.AuditEntry) error {
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		x := exported{Seq: e.Seq, Kind: e.Kind, PrevHash: e.PrevHash, Hash: e.Hash}
		if utf8.Valid(e.Data) {
			x.Data = string(e.Data)
		} else {
			x.DataBase64 = base64.StdEncoding.EncodeToString(e.Data)
		}
		line, err := json.Marshal(x)
		if err != nil {
			return err
		}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadLog reads a log written by WriteLog. Blank lines are skipped; an error names
// the line (1-based) it is on.
func ReadLog(r io.Reader) ([]store.AuditEntry, error) {
	br := bufio.NewReader(r)
	var entries []store.AuditEntry
	for line := 1; ; line++ {
		raw, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if text := bytes.TrimSpace(raw); len(text) > 0 {
			e, perr := parseLine(text)
			if perr != nil {
				return nil, fmt.Errorf("line %d: %w", line, perr)
			}
			entries = append(entries, e)
		}
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
	}
}

func parseLine(text []byte) (store.AuditEntry, error) {
	var x exported
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x); err != nil {
		return store.AuditEntry{}, fmt.Errorf("not an audit entry (one JSON object per line): %w", err)
	}
	if dec.More() {
		return store.AuditEntry{}, errors.New("more than one JSON value on the line")
	}
	switch {
	case x.Seq < 1:
		return store.AuditEntry{}, errors.New("seq: missing or below 1")
	case x.Kind == "":
		return store.AuditEntry{}, errors.New("kind: missing")
	case x.Hash == "":
		return store.AuditEntry{}, errors.New("hash: missing")
	case x.PrevHash == "":
		return store.AuditEntry{}, errors.New("prevHash: missing")
	case x.Data != "" && x.DataBase64 != "":
		return store.AuditEntry{}, errors.New("data and dataBase64: only one may be set")
	}
	e := store.AuditEntry{Seq: x.Seq, Kind: x.Kind, PrevHash: x.PrevHash, Hash: x.Hash, Data: []byte(x.Data)}
	if x.DataBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(x.DataBase64)
		if err != nil {
			return store.AuditEntry{}, fmt.Errorf("dataBase64: not base64: %w", err)
		}
		e.Data = b
	}
	return e, nil
}
