package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestRollChange(t *testing.T) {
	boom := errors.New("no answer")
	tests := map[string]struct {
		current  string
		found    bool
		digest   string
		cast     bool
		castErr  error
		want     bool
		wantErr  error
		asksCast bool
	}{
		"no roll yet":                        {digest: "d1", want: true, asksCast: true},
		"the same roll again":                {current: "d1", found: true, digest: "d1"},
		"the same roll once voting started":  {current: "d1", found: true, digest: "d1", cast: true},
		"another roll before any ballot":     {current: "d1", found: true, digest: "d2", want: true, asksCast: true},
		"another roll once a ballot is cast": {current: "d1", found: true, digest: "d2", cast: true, wantErr: ErrRollLocked, asksCast: true},
		"an empty digest recorded is a roll": {current: "", found: true, digest: ""},
		"the participation cannot be read":   {current: "d1", found: true, digest: "d2", castErr: boom, wantErr: boom, asksCast: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			asked := false
			got, err := RollChange(tc.current, tc.found, tc.digest, func() (bool, error) {
				asked = true
				return tc.cast, tc.castErr
			})
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("RollChange = %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
			if asked != tc.asksCast {
				t.Errorf("the participation was read: %v, want %v", asked, tc.asksCast)
			}
		})
	}
}

func TestCheckRollEntry(t *testing.T) {
	letter := &OutboxMessage{Kind: KindCredential, Channel: ChannelMail, NotAfter: time.Now()}
	tests := map[string]struct {
		entry   RollEntry
		wantErr string
	}{
		"a voter":                  {entry: RollEntry{Voter: Voter{ID: "v1"}}},
		"a voter with a letter":    {entry: RollEntry{Voter: Voter{ID: "v1"}, Letter: letter}},
		"no id":                    {entry: RollEntry{Voter: Voter{Name: "Ann"}}, wantErr: "voter 3 has no id"},
		"a letter of unknown kind": {entry: RollEntry{Voter: Voter{ID: "v1"}, Letter: &OutboxMessage{Kind: "x", Channel: ChannelMail, NotAfter: time.Now()}}, wantErr: "voter 3's letter: unknown message kind"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := CheckRollEntry(3, tc.entry)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CheckRollEntry: %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckRollEntry: %v", err)
			}
			if got.Letter != nil && (got.Letter.VoterID != "v1" || got.Letter == tc.entry.Letter) {
				t.Errorf("the letter is %+v: want a copy addressed to v1", got.Letter)
			}
		})
	}
	if letter.VoterID != "" {
		t.Errorf("the caller's letter was changed: %+v", letter)
	}
}

func TestGuardAttempt(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	policy := LockoutPolicy{MaxFailures: 3, Lockouts: []time.Duration{time.Minute}}
	pending := &PendingSignIn{VoterID: "v1"}
	tests := map[string]struct {
		guard                     Guard
		verdict                   Verdict
		wantLocked                bool
		wantRecord, wantEndSignIn bool
		wantFailures              int
	}{
		"locked out: nothing checked":   {guard: Guard{LockedUntil: now.Add(time.Second)}, verdict: Right, wantLocked: true},
		"nothing to check: not counted": {verdict: NothingToCheck},
		"a wrong code is counted":       {verdict: Wrong, wantRecord: true, wantFailures: 1},
		"the last wrong code locks out": {guard: Guard{Failures: 2}, verdict: Wrong, wantRecord: true, wantEndSignIn: true},
		"a right code ends the sign-in": {guard: Guard{Failures: 2}, verdict: Right, wantRecord: true, wantEndSignIn: true},
		"a lockout over: checked again": {guard: Guard{LockedUntil: now}, verdict: Wrong, wantRecord: true, wantFailures: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			read, checked := false, false
			a, record, end, err := tc.guard.Attempt(now, policy,
				func() (*PendingSignIn, error) { read = true; return pending, nil },
				func(p *PendingSignIn) Verdict {
					checked = true
					if p != pending {
						t.Errorf("check got %v, want the pending sign-in", p)
					}
					return tc.verdict
				})
			if err != nil {
				t.Fatal(err)
			}
			if a.Locked != tc.wantLocked || record != tc.wantRecord || end != tc.wantEndSignIn || a.Guard.Failures != tc.wantFailures {
				t.Errorf("Attempt = %+v, record %v, end %v; want locked %v, record %v, end %v, %d failures",
					a, record, end, tc.wantLocked, tc.wantRecord, tc.wantEndSignIn, tc.wantFailures)
			}
			if read == tc.wantLocked || checked == tc.wantLocked {
				t.Errorf("read %v, checked %v while locked=%v", read, checked, tc.wantLocked)
			}
		})
	}
	boom := errors.New("unreadable")
	if _, _, _, err := (Guard{}).Attempt(now, policy, func() (*PendingSignIn, error) { return nil, boom },
		func(*PendingSignIn) Verdict { t.Error("checked without a sign-in read"); return Right }); !errors.Is(err, boom) {
		t.Errorf("Attempt with an unreadable sign-in: %v, want %v", err, boom)
	}
}

func TestOrNone(t *testing.T) {
	p := PendingSignIn{VoterID: "v1"}
	if got, err := OrNone(p, nil); err != nil || got == nil || got.VoterID != "v1" {
		t.Errorf("OrNone(found) = %v, %v", got, err)
	}
	if got, err := OrNone(p, fmt.Errorf("reading: %w", ErrNotFound)); err != nil || got != nil {
		t.Errorf("OrNone(not found) = %v, %v; want nil, nil", got, err)
	}
	boom := errors.New("boom")
	if _, err := OrNone(p, boom); !errors.Is(err, boom) {
		t.Errorf("OrNone(error) = %v, want %v", err, boom)
	}
}

func TestApplyMigrations(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/0002_more.sql":  {Data: []byte("two")},
		"migrations/0010_late.sql":  {Data: []byte("ten")},
		"migrations/0001_init.sql":  {Data: []byte("one")},
		"migrations/README":         {Data: []byte("not a migration")},
		"elsewhere/0003_ignore.sql": {Data: []byte("three")},
	}
	var ran []string
	err := ApplyMigrations(fsys, func(v int) (bool, error) { return v == 2, nil }, func(m Migration) error {
		ran = append(ran, fmt.Sprintf("%d %s %s", m.Version, m.Name, m.SQL))
		return nil
	})
	if want := "1 0001_init.sql one|10 0010_late.sql ten"; err != nil || strings.Join(ran, "|") != want {
		t.Errorf("ran %q, %v; want %q (version order, applied ones skipped)", strings.Join(ran, "|"), err, want)
	}

	boom := errors.New("syntax error")
	err = ApplyMigrations(fsys, func(int) (bool, error) { return false, nil }, func(m Migration) error {
		if m.Version == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "0002_more.sql") {
		t.Errorf("a failing migration: %v; want it named, wrapping %v", err, boom)
	}

	for name, files := range map[string]fstest.MapFS{
		"the same number twice": {"migrations/0001_a.sql": {}, "migrations/1_b.sql": {}},
		"no number":             {"migrations/init.sql": {}},
	} {
		if err := ApplyMigrations(files, func(int) (bool, error) { return false, nil },
			func(Migration) error { t.Errorf("%s: a migration ran", name); return nil }); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestIsSentinel(t *testing.T) {
	for _, err := range sentinels {
		if !IsSentinel(fmt.Errorf("casting: %w", err)) {
			t.Errorf("%v wrapped is not a sentinel", err)
		}
	}
	if IsSentinel(errors.New("disk full")) || IsSentinel(nil) {
		t.Error("another error, or nil, is a sentinel")
	}
}

func TestGuardMaySend(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		guard Guard
		want  bool
	}{
		"never sent":                {want: true},
		"sent within the cooldown":  {guard: Guard{LastSentAt: now.Add(-59 * time.Second)}},
		"the cooldown just over":    {guard: Guard{LastSentAt: now.Add(-time.Minute)}, want: true},
		"locked out":                {guard: Guard{LockedUntil: now.Add(time.Second)}},
		"a lockout over, long sent": {guard: Guard{LockedUntil: now, LastSentAt: now.Add(-time.Hour)}, want: true},
	}
	for name, tc := range tests {
		if got := tc.guard.MaySend(now, time.Minute); got != tc.want {
			t.Errorf("%s: MaySend = %v, want %v", name, got, tc.want)
		}
	}
}

func TestGenerateKeys(t *testing.T) {
	if v, err := GenerateKeys("k", func() ([]byte, error) { return nil, nil }); err != nil || v == nil || len(v) != 0 {
		t.Errorf("GenerateKeys of nil = %v, %v; want empty, not nil", v, err)
	}
	boom := errors.New("no entropy")
	if _, err := GenerateKeys("k", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) || !strings.Contains(err.Error(), `"k"`) {
		t.Errorf("GenerateKeys with a failing gen: %v; want it named, wrapping %v", err, boom)
	}
}

func TestBoardInputChecks(t *testing.T) {
	if CheckSetup(nil) == nil || CheckSetup([]byte("{}")) != nil {
		t.Error("CheckSetup: want an empty setup refused, another taken")
	}
	for name, tc := range map[string]struct {
		b  VerifiableBallot
		ok bool
	}{
		"whole":      {b: VerifiableBallot{Body: []byte("{}"), Tracker: "t"}, ok: true},
		"no body":    {b: VerifiableBallot{Tracker: "t"}},
		"no tracker": {b: VerifiableBallot{Body: []byte("{}")}},
	} {
		if err := tc.b.Check(); (err == nil) != tc.ok {
			t.Errorf("%s: Check = %v, want ok=%v", name, err, tc.ok)
		}
	}
}
