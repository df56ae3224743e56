package pages

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// serve asks the pages for path with the given Accept-Language.
func serve(f *fixture, method, path, acceptLanguage string, h http.HandlerFunc) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Accept-Language", acceptLanguage)
	rec := httptest.NewRecorder()
	h(rec, req)
	return rec
}

// TestCachedPagesAreTheRenderedPages: the sign-in page and the wait page written
// from memory are byte for byte the pages rendered for that request, with the
// same status and headers, in each language; a request that carries anything of
// its own (a query) is rendered, not served from the cache.
func TestCachedPagesAreTheRenderedPages(t *testing.T) {
	f := newFixture(t, fixtureOptions{languages: []scrutinv1.Language{scrutinv1.LanguageFrench, scrutinv1.LanguageEnglish}})
	f.clock.Add(time.Hour) // open
	p := f.pages
	for _, lang := range []string{"fr", "en"} {
		// the page rendered for that request
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Accept-Language", lang)
		v, _ := p.signInView(httptest.NewRecorder(), req, "signin", signInState{})
		want, err := p.execute(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/", "/sign-in", "/sign-in"} { // the second /sign-in: from the cache
			rec := serve(f, "GET", path, lang, p.ServeHTTP)
			if rec.Code != http.StatusOK || rec.Body.String() != string(want) {
				t.Fatalf("%s %s: %d, the page differs from the one rendered:\n%s\nwant:\n%s", lang, path, rec.Code, rec.Body, want)
			}
			checkHeaders(t, rec.Header(), false)
		}
		if _, ok := p.cache.m.Load(pageKey{page: "signin", lang: lang}); !ok {
			t.Errorf("%s: the sign-in page was not kept", lang)
		}

		for _, path := range []string{"/ballot", "/sign-in", "/"} {
			rendered := serve(f, "GET", path, lang, func(w http.ResponseWriter, r *http.Request) {
				securityHeaders(w, r)
				w.Header().Set("Retry-After", "2")
				p.render(w, r, http.StatusServiceUnavailable, p.waitView(w, r, 2))
			})
			for range 2 { // filled, then from the cache
				rec := serve(f, "GET", path, lang, func(w http.ResponseWriter, r *http.Request) { p.WaitPage(w, r, 2) })
				if rec.Code != rendered.Code || rec.Body.String() != rendered.Body.String() {
					t.Fatalf("%s wait page of %s: %d, differs from the page rendered (%d):\n%s", lang, path, rec.Code, rendered.Code, rec.Body)
				}
				for _, h := range []string{"Retry-After", "Content-Type", "Cache-Control", "Content-Security-Policy", "X-Frame-Options"} {
					if rec.Header().Get(h) != rendered.Header().Get(h) || rec.Header().Get(h) == "" {
						t.Errorf("%s wait page of %s: %s %q, rendered %q", lang, path, h, rec.Header().Get(h), rendered.Header().Get(h))
					}
				}
			}
			if _, ok := p.cache.m.Load(pageKey{page: "wait", lang: lang, path: path, seconds: 2}); !ok {
				t.Errorf("%s: the wait page of %s was not kept", lang, path)
			}
		}
	}

	// a query, another address, a long wait: rendered each time, never kept
	rec := serve(f, "GET", "/sign-in?voter_id=V-1", "en", p.ServeHTTP)
	if !strings.Contains(rec.Body.String(), `value="V-1"`) {
		t.Errorf("the voter id typed is not in its sign-in page")
	}
	serve(f, "GET", "/ballot?x=1", "en", func(w http.ResponseWriter, r *http.Request) { p.WaitPage(w, r, 2) })
	serve(f, "GET", "/somewhere", "en", func(w http.ResponseWriter, r *http.Request) { p.WaitPage(w, r, 2) })
	serve(f, "GET", "/ballot", "en", func(w http.ResponseWriter, r *http.Request) { p.WaitPage(w, r, maxCachedWait+1) })
	n := 0
	p.cache.m.Range(func(k, _ any) bool {
		n++
		if key := k.(pageKey); key.path == "/somewhere" || key.seconds > maxCachedWait {
			t.Errorf("kept: %+v", key)
		}
		return true
	})
	if want := 2 * (1 + 3); n != want {
		t.Errorf("%d pages kept, want %d", n, want)
	}
}

// BenchmarkPlainPages: the sign-in page and the wait page of a plain GET, rendered
// through html/template for each request (as before the cache) and written from
// memory; go test -bench PlainPages -benchmem ./voting-runtime/pages.
func BenchmarkPlainPages(b *testing.B) {
	f := newFixture(b, fixtureOptions{})
	f.clock.Add(time.Hour)
	p := f.pages
	for _, bc := range []struct {
		name, path string
		h          http.HandlerFunc
	}{
		{"sign-in/rendered", "/sign-in", func(w http.ResponseWriter, r *http.Request) {
			securityHeaders(w, r)
			p.renderSignIn(w, r, http.StatusOK, "signin", signInState{}, "")
		}},
		{"sign-in/cached", "/sign-in", p.ServeHTTP},
		{"wait/rendered", "/ballot", func(w http.ResponseWriter, r *http.Request) {
			securityHeaders(w, r)
			w.Header().Set("Retry-After", "2")
			p.render(w, r, http.StatusServiceUnavailable, p.waitView(w, r, 2))
		}},
		{"wait/cached", "/ballot", func(w http.ResponseWriter, r *http.Request) { p.WaitPage(w, r, 2) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", bc.path, nil)
			req.Header.Set("Accept-Language", "fr")
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				bc.h(w, req)
			}
		})
	}
}

// discard is a ResponseWriter that keeps nothing but its headers.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
