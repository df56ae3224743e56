// Package pages is the voters' web pages of the voting-runtime: sign-in, the code,
// the ballot, its review, the receipt, every error a voter can meet, the public
// bulletin board and results, and the scrutineers' participation pages.
//
// The pages are server-rendered with html/template and work without JavaScript;
// one small external script (static/app.js) only adds what a browser with
// JavaScript can do better (counting down, warning before the session ends, local
// times). Every rule of the vote lives in the engine: the pages call the same
// engine functions as the JSON API (package server), and map its errors to pages.
//
// Ballot secrecy: the choices a voter has made but not cast are never kept on the
// server. They travel in the voter's own pages: the review page holds them sealed
// (AES-256-GCM, with a key derived from the election's session key, the same on
// every replica; the voter id in the authenticated data and the sealing session's
// keyed digest inside, so that only that session opens them, or, once it has ended,
// the same voter signing in again; padded to one length) in a hidden field, which,
// when the session ends on the review, follows the voter through the sign-in pages
// and back.
// Choices are sealed only for a live session. The script keeps the ballot's choices
// in the browser window until the vote is recorded, so that a ballot sent when the
// session had ended, or turned away under load, comes back after signing in again.
//
// The review page and the ballot's request are padded to one length whatever the
// choices: the length of encrypted traffic says nothing of the vote.
package pages

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
	// The pages show times in Paris: the zone must be there even in an image
	// without a time zone database.
	_ "time/tzdata"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/auth"
	"scrutin.dev/scrutin/voting-runtime/engine"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed i18n/*.json
var i18nFS embed.FS

// ContentSecurityPolicy is sent with every page: no inline script or style, no
// framing, forms only to this site.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// Cookie names (besides the session cookie, server.SessionCookie).
const (
	// LangCookie remembers the language the voter picked with the switch.
	LangCookie = "scrutin_lang"
	// ScrutineerCookie holds a scrutineer's signed pass, after the token form.
	ScrutineerCookie = "scrutin_scrutineer"
)

// Bounds of a posted form besides the ballot's own fields (which Pages sizes from
// the election's questions, see ballotFormMax): the sign-in forms' fields, and the
// rest of a ballot form (its language, return, padding fields).
const (
	signInFormBytes = 4 << 10
	ballotFormSlack = 16 << 10
	// scrutineerFormBytes bounds the scrutineers' token form.
	scrutineerFormBytes = 4 << 10
)

// Config is what the pages run on.
type Config struct {
	// Engine runs the election: every rule is its own.
	Engine *engine.Engine
	// SessionKey is the election's session key (the "session-key" of its keys
	// Secret), the same on every replica, at least 32 bytes. The pages derive from
	// it the key that seals a voter's unsent choices and the key that signs the
	// scrutineers' cookie.
	SessionKey []byte
	// ScrutineerToken is the scrutineers' bearer token; empty disables their pages.
	ScrutineerToken string
	// Now is the clock, the engine's own (time.Now when nil).
	Now func() time.Time
	Log *slog.Logger
}

// Pages serves the voters' pages. It is an http.Handler meant to be mounted at
// "/", beside the API.
type Pages struct {
	en        *engine.Engine
	e         *scrutinv1.Election
	now       func() time.Time
	log       *slog.Logger
	langs     []string
	seal      *sealer
	scrutKey  []byte
	scrutTok  string
	tmpl      map[string]*template.Template
	static    map[string]staticFile
	handler   http.Handler
	paris     *time.Location
	staticVer string
	// formMax is the longest encoding of a ballot's own fields (ballotFormMax);
	// ballotBytes and signInBytes bound the forms that carry a ballot or a
	// sealed draft, and the sign-in forms (which may carry one too).
	formMax                  int
	ballotBytes, signInBytes int64
	// longest holds, by language, the answers whose review page is the longest
	// (reviewPadding pads every review page to that length).
	longest sync.Map
	// cache holds the pages that are the same for every voter (cache.go).
	cache pageCache
}

type staticFile struct {
	body        []byte
	contentType string
}

// New builds the pages.
func New(cfg Config) (*Pages, error) {
	if cfg.Engine == nil {
		return nil, errors.New("pages: an engine is required")
	}
	if len(cfg.SessionKey) < 32 {
		return nil, errors.New("pages: the session key must be at least 32 bytes")
	}
	p := &Pages{en: cfg.Engine, e: cfg.Engine.Election(), now: cfg.Now, log: cfg.Log, scrutTok: cfg.ScrutineerToken}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	for _, l := range p.e.Spec.Languages {
		if _, ok := catalogs[string(l)]; ok && !contains(p.langs, string(l)) {
			p.langs = append(p.langs, string(l))
		}
	}
	if len(p.langs) == 0 {
		p.langs = []string{"fr", "en"}
	}
	var err error
	id := p.e.Namespace + "/" + p.e.Name + "/" + string(p.e.UID)
	p.formMax = ballotFormMax(p.en.Questions())
	if p.en.Proxies() {
		// the field naming the grantor a holder's ballot is for: every draft
		// keeps room for the longest, so that they seal to one length
		p.formMax += len("for=") + 3*maxMandateID + 1
	}
	if p.seal, err = newSealer(cfg.SessionKey, id, p.formMax); err != nil {
		return nil, err
	}
	draftLen := int64(base64.RawURLEncoding.EncodedLen(p.seal.sealedLen()))
	p.ballotBytes = ballotFormSlack + 3*int64(p.formMax) + draftLen
	p.signInBytes = signInFormBytes + draftLen
	if p.scrutKey, err = auth.DeriveKey(cfg.SessionKey, "scrutin pages: scrutineers' cookie v1|"+id); err != nil {
		return nil, err
	}
	if p.paris, err = time.LoadLocation("Europe/Paris"); err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	if err := p.loadStatic(); err != nil {
		return nil, err
	}
	if p.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.home)
	mux.HandleFunc("GET /sign-in", p.getSignIn)
	mux.HandleFunc("POST /sign-in", p.postSignIn)
	mux.HandleFunc("GET /sign-in/code", p.redirectHome)
	mux.HandleFunc("POST /sign-in/code", p.postCode)
	mux.HandleFunc("GET /sign-in/resend", p.redirectHome)
	mux.HandleFunc("POST /sign-in/resend", p.postResend)
	mux.HandleFunc("POST /sign-out", p.postSignOut)
	mux.HandleFunc("GET /ballot", p.getBallot)
	mux.HandleFunc("POST /ballot", p.postBallot)
	mux.HandleFunc("GET /ballot/change", p.redirectBallot)
	mux.HandleFunc("POST /ballot/change", p.postChange)
	mux.HandleFunc("GET /ballot/confirm", p.redirectBallot)
	mux.HandleFunc("POST /ballot/confirm", p.postConfirm)
	mux.HandleFunc("GET /receipt", p.redirectBallot)
	mux.HandleFunc("POST /receipt", p.postReceipt)
	mux.HandleFunc("GET /session/extend", p.redirectBallot)
	mux.HandleFunc("POST /session/extend", p.postExtend)
	mux.HandleFunc("GET /proxy", p.getProxy)
	mux.HandleFunc("POST /proxy", p.postProxy)
	mux.HandleFunc("GET /proxy/withdraw", p.redirectBallot)
	mux.HandleFunc("POST /proxy/withdraw", p.postProxyWithdraw)
	mux.HandleFunc("GET /board", p.getBoard)
	mux.HandleFunc("GET /board/check", p.getBoardCheck)
	mux.HandleFunc("GET /results", p.getResults)
	mux.HandleFunc("GET /scrutineer", p.getScrutineer)
	mux.HandleFunc("POST /scrutineer", p.postScrutineer)
	mux.HandleFunc("GET /scrutineer/participation.csv", p.scrutineerOnly(p.getParticipationCSV))
	mux.HandleFunc("GET /scrutineer/participation.json", p.scrutineerOnly(p.getParticipationJSON))
	mux.HandleFunc("POST /scrutineer/sign-out", p.postScrutineerSignOut)
	mux.HandleFunc("GET /static/{file}", p.serveStatic)
	mux.HandleFunc("/", p.notFound)
	// Forms sent from another site are refused by the server before anything
	// else (server.Config.Forbidden is Forbidden), for the pages and the API alike.
	p.handler = mux
	return p, nil
}

// ServeHTTP sets the security headers every page carries and serves it.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w, r)
	if r.URL.Query().Has("lang") {
		p.language(w, r) // remembered, whichever page answers
	}
	p.handler.ServeHTTP(w, r)
}

// securityHeaders are the headers of every page.
func securityHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Security-Policy"] = cspValue
	h["X-Content-Type-Options"] = nosniffValue
	h["Referrer-Policy"] = noReferrerValue
	h["X-Frame-Options"] = denyValue
	if overTLS(r) {
		h["Strict-Transport-Security"] = hstsValue
	}
}

// The header values every page carries, made once (their keys are in canonical
// form): setting them allocates nothing. Each slice has its length as capacity,
// so a later Add appends to a copy, never to the shared array.
var (
	cspValue        = []string{ContentSecurityPolicy}
	nosniffValue    = []string{"nosniff"}
	noReferrerValue = []string{"no-referrer"}
	denyValue       = []string{"DENY"}
	hstsValue       = []string{"max-age=31536000"}
	htmlValue       = []string{"text/html; charset=utf-8"}
	noStoreValue    = []string{"no-store"}
)

// overTLS: the voter reached us over TLS, directly or through the ingress.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// setCookie sets a cookie the way every cookie of the pages is set: HttpOnly,
// SameSite=Lax, Secure over TLS, for the whole site.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: overTLS(r),
	})
}

func (p *Pages) loadStatic() error {
	p.static = map[string]staticFile{}
	sum := sha256.New()
	err := fs.WalkDir(staticFS, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(name)
		if err != nil {
			return err
		}
		ct := "application/octet-stream"
		switch path.Ext(name) {
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".js":
			ct = "text/javascript; charset=utf-8"
		}
		p.static[path.Base(name)] = staticFile{body: body, contentType: ct}
		sum.Write(body)
		return nil
	})
	p.staticVer = hex.EncodeToString(sum.Sum(nil))[:12]
	return err
}

// serveStatic serves the stylesheet and the script. Their URLs carry a version,
// so they can be kept by browsers for long.
func (p *Pages) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := p.static[r.PathValue("file")]
	if !ok {
		p.notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	if r.URL.Query().Get("v") == p.staticVer {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

func (p *Pages) redirectHome(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (p *Pages) redirectBallot(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/ballot", http.StatusSeeOther)
}

func (p *Pages) notFound(w http.ResponseWriter, r *http.Request) {
	v := p.view(w, r, "not-found")
	v.Data = &errorData{}
	p.render(w, r, http.StatusNotFound, v)
}

// Forbidden is the answer to a form sent from another site (the server calls it,
// before any limit: server.Config.Forbidden).
func (p *Pages) Forbidden(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w, r)
	v := p.view(w, r, "forbidden")
	v.Data = &errorData{}
	p.render(w, r, http.StatusForbidden, v)
}

// parseForm reads a posted form of at most limit bytes. A body announced longer
// is refused unread, and the connection closed.
func parseForm(w http.ResponseWriter, r *http.Request, limit int64) error {
	if r.PostForm != nil {
		return nil
	}
	if r.ContentLength > limit {
		w.Header().Set("Connection", "close")
		return errors.New("pages: the form is too large")
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return r.ParseForm()
}

// ballotFormMax is the longest encoding ballotFields can give of a ballot form of
// qs: every option of every question chosen, blank too, every rank the longest.
func ballotFormMax(qs []scrutinv1.Question) int {
	n := 0
	for _, q := range qs {
		name := len(url.QueryEscape("q_" + q.ID))
		n += name + 1 + len(blankValue) + 1 + name + 1 + len(unknownValue) + 1
		digits := len(strconv.Itoa(len(q.Options)))
		for _, o := range q.Options {
			n += name + 1 + len(url.QueryEscape(o.ID)) + 1
			n += len(url.QueryEscape("r_"+q.ID+"_"+o.ID)) + 1 + digits + 1
		}
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
