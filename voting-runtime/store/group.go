package store

import (
	"errors"
	"sync"
)

// Group commits concurrent requests together: at the noon peak, casts one
// transaction each queue behind one another's flush to disk, where one
// transaction could hold them all. The first request to arrive when no group is
// being committed leads: it calls Commit, which takes the requests waiting (its
// own first) when it is ready to write, commits them, and gives each its outcome;
// Do returns that outcome to each caller only then, so that no caller hears of a
// write before the commit that holds it. The leader then hands the lead to the
// oldest request still waiting. Requests of the same key are never in one group:
// a later one waits for the next.
type Group[R any] struct {
	// Max bounds a group.
	Max int
	// Key keeps requests apart: two of one key are never in one group.
	Key func(R) string
	// Commit is called by a group's leader. take returns the requests waiting
	// (at most Max, none twice by Key), in their order of arrival; Commit returns
	// each one's outcome in that order (nil: committed). Commit must call take
	// exactly once.
	Commit func(take func() []R) []error

	mu      sync.Mutex
	waiting []*groupRequest[R]
	leading bool
}

type groupRequest[R any] struct {
	r    R
	done chan error // the outcome, or errLead first
}

// errLead tells a waiting request that it leads the next group.
var errLead = errors.New("store: lead the next group")

// Do queues r and returns its outcome once its group is committed, leading a
// group when its turn comes.
func (g *Group[R]) Do(r R) error {
	req := &groupRequest[R]{r: r, done: make(chan error, 1)}
	g.mu.Lock()
	g.waiting = append(g.waiting, req)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if !lead {
		if err := <-req.done; err != errLead {
			return err
		}
	}
	g.lead()
	return <-req.done
}

// lead commits one group, answers it and passes the lead on.
func (g *Group[R]) lead() {
	var group []*groupRequest[R]
	taken := false
	take := func() []R {
		if taken {
			panic("store: Group.Commit took twice")
		}
		taken = true
		g.mu.Lock()
		defer g.mu.Unlock()
		seen := map[string]bool{}
		rest := g.waiting[:0:0]
		for _, w := range g.waiting {
			k := ""
			if g.Key != nil {
				k = g.Key(w.r)
			}
			if len(group) >= max(1, g.Max) || (g.Key != nil && seen[k]) {
				rest = append(rest, w)
				continue
			}
			seen[k] = true
			group = append(group, w)
		}
		g.waiting = rest
		rs := make([]R, len(group))
		for i, w := range group {
			rs[i] = w.r
		}
		return rs
	}
	errs := g.Commit(take)
	if !taken {
		take() // a Commit that failed before taking fails the group it would have taken
		errs = nil
	}
	for i, w := range group {
		var err error
		switch {
		case i < len(errs):
			err = errs[i]
		default:
			err = errors.New("store: a group commit gave no outcome")
		}
		w.done <- err
	}
	g.mu.Lock()
	if len(g.waiting) > 0 {
		g.waiting[0].done <- errLead
	} else {
		g.leading = false
	}
	g.mu.Unlock()
}

// Waiting is how many requests wait for a group (tests read it).
func (g *Group[R]) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiting)
}
