package audit

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
)

func TestWriteReadLogRoundTrip(t *testing.T) {
	entries := Chain(0, Genesis, []store.AuditRecord{
		{Kind: "roll-imported", Data: []byte(`{"digest":"sha256:ab","note":"<&>é"}`)},
		{Kind: "opened"},
		{Kind: "ballot", Data: []byte{0xff, 0x00, 0x80}}, // not UTF-8: base64
		{Kind: "closed", Data: []byte("line\nbreak")},
	})
	var buf bytes.Buffer
	if err := WriteLog(&buf, entries); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != len(entries) {
		t.Fatalf("%d lines for %d entries:\n%s", n, len(entries), buf.String())
	}
	if !strings.Contains(buf.String(), `"dataBase64":"/wCA"`) {
		t.Errorf("non-UTF-8 data not in base64:\n%s", buf.String())
	}
	back, err := ReadLog(strings.NewReader("\n" + buf.String() + "\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range back {
		if len(back[i].Data) == 0 {
			back[i].Data = nil
		}
	}
	if !reflect.DeepEqual(back, entries) {
		t.Errorf("read back\n%+v\nwant\n%+v", back, entries)
	}
	if err := Verify(back, entries[len(entries)-1].Hash); err != nil {
		t.Errorf("read-back log does not verify: %v", err)
	}
}

func TestReadLogErrorsNameTheLine(t *testing.T) {
	good := `{"seq":1,"kind":"opened","prevHash":"sha256:0","hash":"sha256:1"}`
	tests := map[string]struct{ in, want string }{
		"not JSON":      {good + "\n\nnot json\n", "line 3: not an audit entry"},
		"unknown field": {good + "\n" + `{"seq":2,"kind":"x","prevHash":"a","hash":"b","voter":"A-1"}`, "line 2: not an audit entry"},
		"no kind":       {`{"seq":1,"prevHash":"a","hash":"b"}`, "line 1: kind: missing"},
		"no seq":        {`{"kind":"x","prevHash":"a","hash":"b"}`, "line 1: seq: missing"},
		"bad base64":    {`{"seq":1,"kind":"x","dataBase64":"!!","prevHash":"a","hash":"b"}`, "line 1: dataBase64: not base64"},
		"two values":    {good + " {}", "line 1: more than one JSON value"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ReadLog(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
}
