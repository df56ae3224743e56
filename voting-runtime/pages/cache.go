package pages

import (
	"net/http"
	"strconv"
	"sync"
)

// The pages that are the same for every voter who asks for them are rendered once
// per language and then written from memory: the plain sign-in page (the first
// page of every journey) and the wait page of a plain address (every request
// turned away under overload). At the noon peak they are most of the pages served,
// and html/template took a fifth of the runtime's CPU rendering the sign-in page
// alone (make bench-peak, 2026-11-24). Only what depends on nothing of the request
// but its language is kept: the keys come from a closed set (the languages, the
// few addresses below, waits of at most maxCachedWait seconds), so the cache
// stays small, and the election's settings never change in a running process.

// cachedWaitPaths are the addresses a voter lands on with GET whose wait page is
// kept; another address (a query, a path of the client's own making) is rendered.
var cachedWaitPaths = map[string]bool{"/": true, "/sign-in": true, "/ballot": true, "/board": true, "/results": true}

// maxCachedWait bounds the waits whose page is kept.
const maxCachedWait = 10

type pageKey struct {
	page, lang, path string
	seconds          int
}

// pageCache holds rendered pages by pageKey.
type pageCache struct{ m sync.Map }

// get returns the page of k, rendering it with render the first time. A page
// that failed to render is not kept.
func (c *pageCache) get(k pageKey, render func() ([]byte, error)) ([]byte, error) {
	if b, ok := c.m.Load(k); ok {
		return b.([]byte), nil
	}
	b, err := render()
	if err != nil {
		return nil, err
	}
	c.m.Store(k, b)
	return b, nil
}

// plainRequest: a request whose page depends only on its path and the voter's
// language: no query (a ?lang= switch sets a cookie, a ?voter_id= fills the
// form).
func plainRequest(r *http.Request) bool {
	return r.URL.RawQuery == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
}

// writeCachedSignIn writes the plain sign-in page from memory, and says whether it
// did: only for a GET with no query, the page nobody has typed in.
func (p *Pages) writeCachedSignIn(w http.ResponseWriter, r *http.Request) bool {
	if !plainRequest(r) {
		return false
	}
	lang := p.language(w, r)
	body, err := p.cache.get(pageKey{page: "signin", lang: lang}, func() ([]byte, error) {
		v, _ := p.signInView(w, r, "signin", signInState{})
		return p.execute(v)
	})
	if err != nil {
		return false // rendered again, and its failure said, by the caller
	}
	p.write(w, http.StatusOK, body)
	return true
}

// writeCachedWait writes the wait page of a plain GET of a usual address from
// memory, with its headers, and says whether it did.
func (p *Pages) writeCachedWait(w http.ResponseWriter, r *http.Request, seconds int) bool {
	if !plainRequest(r) || seconds > maxCachedWait || !cachedWaitPaths[r.URL.Path] {
		return false
	}
	lang := p.language(w, r)
	body, err := p.cache.get(pageKey{page: "wait", lang: lang, path: r.URL.Path, seconds: seconds}, func() ([]byte, error) {
		return p.execute(p.waitView(w, r, seconds))
	})
	if err != nil {
		return false
	}
	securityHeaders(w, r)
	w.Header()["Retry-After"] = retryAfterValues[seconds]
	p.write(w, http.StatusServiceUnavailable, body)
	return true
}

// retryAfterValues are the Retry-After header values of the cached waits, made
// once.
var retryAfterValues = func() [maxCachedWait + 1][]string {
	var v [maxCachedWait + 1][]string
	for i := range v {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}()
