package server

import (
	"bufio"
	"context"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/voting-runtime/ballot"
	"scrutin.dev/scrutin/voting-runtime/engine"
	"scrutin.dev/scrutin/voting-runtime/store"
)

type signInRequest struct {
	VoterID string `json:"voterId"`
}

type signInResponse struct {
	Method             scrutinv1.AuthMethod `json:"method"`
	Channel            string               `json:"channel,omitempty"`
	Destination        string               `json:"destination,omitempty"`
	CodeValidSeconds   int                  `json:"codeValidSeconds,omitempty"`
	ResendAfterSeconds int                  `json:"resendAfterSeconds,omitempty"`
}

// signIn: POST /api/v1/sign-in {"voterId"} -> 202, the code is on its way.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	var req signInRequest
	if !decodeBody(w, r, &req, signInBytes) {
		return
	}
	start, err := s.en.StartSignIn(r.Context(), req.VoterID)
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, signInResponse{
		Method: start.Method, Channel: start.Channel, Destination: start.Destination,
		CodeValidSeconds: int(start.CodeValidity.Seconds()), ResendAfterSeconds: int(start.ResendAfter.Seconds()),
	})
}

type codeRequest struct {
	VoterID string `json:"voterId"`
	Code    string `json:"code"`
}

type sessionResponse struct {
	VoterID          string `json:"voterId"`
	SessionExpiresAt string `json:"sessionExpiresAt"`
}

// signInCode: POST /api/v1/sign-in/code {"voterId","code"} -> 200 with the session
// cookie (the code is a credential with the Credential method).
func (s *Server) signInCode(w http.ResponseWriter, r *http.Request) {
	var req codeRequest
	if !decodeBody(w, r, &req, signInBytes) {
		return
	}
	id, sess, err := s.en.CompleteSignIn(r.Context(), req.VoterID, req.Code)
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	s.setSessionCookie(w, r, id)
	writeJSON(w, http.StatusOK, sessionResponse{VoterID: sess.VoterID, SessionExpiresAt: timeJSON(s.en.SessionExpiry(sess))})
}

// setSessionCookie: HttpOnly, SameSite=Lax, Secure whenever the voter reached us
// over TLS (directly or through the ingress).
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	})
}

type sessionKey struct{}

// withSession admits requests with a live session and passes it on. The session is
// checked before anything of the body is read; a request without one is answered
// at once, its body unread, and its connection closed.
func (s *Server) withSession(next func(http.ResponseWriter, *http.Request, store.Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(SessionCookie)
		if err != nil || c.Value == "" {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusUnauthorized, "signed-out", "sign in first")
			return
		}
		sess, err := s.en.Session(r.Context(), c.Value)
		if err != nil {
			w.Header().Set("Connection", "close")
			s.engineError(w, r, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, c.Value)), sess)
	}
}

func (s *Server) extendSession(w http.ResponseWriter, r *http.Request, _ store.Session) {
	sess, err := s.en.ExtendSession(r.Context(), r.Context().Value(sessionKey{}).(string))
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sessionResponse{VoterID: sess.VoterID, SessionExpiresAt: timeJSON(s.en.SessionExpiry(sess))})
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := s.en.SignOut(r.Context(), c.Value); err != nil {
			s.engineError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	w.WriteHeader(http.StatusNoContent)
}

type ballotResponse struct {
	Title            string               `json:"title"`
	Organization     string               `json:"organization"`
	OpensAt          string               `json:"opensAt"`
	ClosesAt         string               `json:"closesAt"`
	Phase            string               `json:"phase"`
	HasVoted         bool                 `json:"hasVoted"`
	SessionExpiresAt string               `json:"sessionExpiresAt"`
	Questions        []scrutinv1.Question `json:"questions"`
	// Mandates are the proxies the voter holds: a ballot to cast for each
	// ("for": the grantor's voter id) beside their own (spec.proxies).
	Mandates []engine.MandateView `json:"mandates,omitempty"`
}

// getBallot: GET /api/v1/ballot, the questions and where the voter stands.
func (s *Server) getBallot(w http.ResponseWriter, r *http.Request, sess store.Session) {
	voted, err := s.en.HasVoted(r.Context(), sess.VoterID)
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	e, sc := s.en.Election(), s.en.Schedule()
	qs := append([]scrutinv1.Question(nil), s.en.Questions()...)
	for i := range qs {
		max := qs[i].EffectiveMaxChoices()
		qs[i].MaxChoices = &max
	}
	mandates, err := s.en.Mandates(r.Context(), sess.VoterID)
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ballotResponse{
		Title: e.Spec.Title, Organization: e.Spec.Organization,
		OpensAt: timeJSON(sc.OpensAt), ClosesAt: timeJSON(sc.ClosesAt),
		Phase: string(s.en.Phase()), HasVoted: voted, SessionExpiresAt: timeJSON(s.en.SessionExpiry(sess)), Questions: qs,
		Mandates: mandates,
	})
}

type castRequest struct {
	Answers ballot.Answers `json:"answers"`
	// Belenios is an encrypted ballot (the verifiable mode), exactly as its
	// client produced it: the board keeps these bytes.
	Belenios *string `json:"belenios,omitempty"`
	// Padding is ignored: a client pads its casts to one length whatever the
	// choices, so that the length of the request does not tell them.
	Padding string `json:"padding,omitempty"`
	// For is the voter id of the grantor whose proxy the voter holds: the
	// ballot is cast for that member (spec.proxies). Empty: the voter's own.
	For string `json:"for,omitempty"`
}

type castResponse struct {
	Tracker      string `json:"tracker"`
	ShortTracker string `json:"shortTracker"`
}

// postBallot: POST /api/v1/ballot {"answers":{...}} -> 201 {"tracker"} once the
// ballot is durably committed; 409 when this voter has already voted.
func (s *Server) postBallot(w http.ResponseWriter, r *http.Request, sess store.Session) {
	var req castRequest
	if !decodeBody(w, r, &req, s.castBytes) {
		return
	}
	var tracker string
	var err error
	if req.For != "" {
		if req.Belenios != nil {
			writeError(w, http.StatusBadRequest, "bad-request", "proxies do not apply to encrypted ballots")
			return
		}
		tracker, err = s.en.CastFor(r.Context(), sess.VoterID, req.For, req.Answers)
	} else if req.Belenios != nil {
		if req.Answers != nil {
			writeError(w, http.StatusBadRequest, "bad-request", "a cast carries answers or an encrypted ballot, not both")
			return
		}
		tracker, err = s.en.CastEncrypted(r.Context(), sess.VoterID, []byte(*req.Belenios))
	} else {
		tracker, err = s.en.Cast(r.Context(), sess.VoterID, req.Answers)
	}
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, castResponse{Tracker: tracker, ShortTracker: ballot.ShortTracker(tracker)})
}

// electionJSON: GET /api/v1/election.json, the verifiable mode's election
// record, exactly the bytes whose fingerprint ballots carry.
func (s *Server) electionJSON(w http.ResponseWriter, r *http.Request) {
	raw, err := s.en.ElectionJSON(r.Context())
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	_, _ = w.Write(raw)
}

// boardArchive: GET /api/v1/board.bel, the verifiable mode's public board as a
// Belenios archive (what `belenios-tool election verify` reads), streamed from
// the store's records. An error once the archive has started aborts the
// answer: the client sees a cut transfer, never a short archive as a whole one.
func (s *Server) boardArchive(w http.ResponseWriter, r *http.Request) {
	name, err := s.en.BoardName(r.Context())
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	// A large board (about 14 kB a ballot) outlasts the server's write timeout:
	// the deadline moves on with every MiB the client takes, so that a client
	// reading steadily gets it whole and one that stops reading is cut off.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(boardStall))
	bw := bufio.NewWriterSize(&progressWriter{w: w, rc: rc}, 64<<10)
	if err := s.en.WriteBoard(r.Context(), bw); err != nil {
		s.log.Error("The board could not be written out", "error", err)
		panic(http.ErrAbortHandler)
	}
	if err := bw.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// boardStall is how long a board download may take to take its next MiB.
var boardStall = 2 * time.Minute

// progressWriter moves the write deadline on by boardStall with every MiB
// written.
type progressWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	written int
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.written += n
	if p.written >= 1<<20 {
		p.written = 0
		_ = p.rc.SetWriteDeadline(time.Now().Add(boardStall))
	}
	return n, err
}

// partialDecryptionBytes bounds a trustee's partial decryption (about 1 KB a
// slot; 200 options on 50 questions stay under it).
const partialDecryptionBytes = 16 << 20

// partialDecryption: POST /api/v1/trustees/{owner}/partial-decryption, an
// external trustee's partial decryption of the tally (its JSON). No session:
// its proofs, checked against the trustee's key, are its authentication. 201
// once on the board; 409 already on it; 422 when it does not check; 425
// before the tally; 404 no such trustee.
func (s *Server) partialDecryption(w http.ResponseWriter, r *http.Request) {
	owner, err := strconv.Atoi(r.PathValue("owner"))
	if err != nil || owner < 1 {
		writeError(w, http.StatusNotFound, "unknown-trustee", engine.ErrUnknownTrustee.Error())
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusUnsupportedMediaType, "unsupported-media-type", "the request body must be JSON, with Content-Type: application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, partialDecryptionBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too-large", "the request body is too large")
		return
	}
	if err := s.en.SubmitPartialDecryption(r.Context(), owner, body); err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"trustee": owner})
}

// board: GET /api/v1/board, every tracker once the vote is closed.
func (s *Server) board(w http.ResponseWriter, r *http.Request) {
	trackers, err := s.en.Board(r.Context())
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"trackers": trackers})
}

// results: GET /api/v1/results, once counted.
func (s *Server) results(w http.ResponseWriter, r *http.Request) {
	results, err := s.en.Results(r.Context())
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// participation: the scrutineers' CSV export.
func (s *Server) participation(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="participation.csv"`)
	if err := s.en.WriteParticipation(r.Context(), w); err != nil {
		s.log.Error("Participation export failed", "error", err)
	}
}

func (s *Server) controlStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.en.Status(r.Context())
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	d, err := s.en.DeliveryStatus(r.Context())
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	// with the delivery counts per channel and state that the controller
	// copies into the Election's status.delivery
	st.Delivery = &d
	if s.en.Proxies() {
		c, err := s.en.CountProxies(r.Context())
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		st.Proxies = &scrutinv1.ProxyStatus{Given: int32(c.Given), Used: int32(c.Used), Refused: int32(c.Refused)}
	}
	writeJSON(w, http.StatusOK, st)
}

// controlProxies: GET /control/v1/proxies, the mandates per holder and the
// organiser's lines refused, by line and reason (never a voter id of theirs).
func (s *Server) controlProxies(w http.ResponseWriter, r *http.Request) {
	l, err := s.en.ListProxies(r.Context())
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) controlOpen(w http.ResponseWriter, r *http.Request) {
	if err := s.en.Open(r.Context()); err != nil {
		s.engineError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) controlClose(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
	defer cancel()
	if err := s.en.Close(ctx); err != nil {
		s.engineError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// scheduleRequest is the schedule the controller pushes: the Election's, its
// version the Election's metadata.generation.

// controlSchedule: POST /control/v1/schedule records a newer schedule in the
// store, which every replica follows at once, without a restart (200 with
// applied: false for a version not newer than the recorded one; 409 closed once
// the box is closed).
func (s *Server) controlSchedule(w http.ResponseWriter, r *http.Request) {
	var req contract.RuntimeSchedule
	if !decodeBody(w, r, &req, signInBytes) {
		return
	}
	applied, err := s.en.RecordSchedule(r.Context(), store.Schedule{OpensAt: req.OpensAt, ClosesAt: req.ClosesAt, Version: req.Version})
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	st, err := s.en.Status(r.Context())
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"applied": applied, "status": st})
}

func (s *Server) controlResults(w http.ResponseWriter, r *http.Request) {
	results, err := s.en.Results(r.Context())
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	st, err := s.en.Status(r.Context())
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, contract.RuntimeResults{Voters: st.Voters, BallotsCast: st.BallotsCast, AuditHead: st.AuditHead, Results: results})
}

// controlRecords: GET /control/v1/records, the election's records archive
// (package records, a tar.gz) once it is tallied; 409 not-tallied before. The
// controller uploads it to the Election's spec.archive. The body is streamed:
// an error past its first bytes aborts the response, which the controller sees
// as a truncated archive.
func (s *Server) controlRecords(w http.ResponseWriter, r *http.Request) {
	st, err := s.en.Status(r.Context())
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	if !st.Closed {
		s.engineError(w, r, engine.ErrNotTallied)
		return
	}
	if _, err := s.en.Results(r.Context()); err != nil {
		s.engineError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(boardStall))
	bw := bufio.NewWriterSize(&progressWriter{w: w, rc: rc}, 64<<10)
	if err := s.en.WriteRecords(r.Context(), bw); err != nil {
		s.log.Error("The records archive could not be written out", "error", err)
		panic(http.ErrAbortHandler)
	}
	if err := bw.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// controlVoter: GET /control/v1/voters/{id}, what the hotline may see of a voter's
// sign-in (engine.VoterState: never a code nor a hash); 404 unknown-voter.
func (s *Server) controlVoter(w http.ResponseWriter, r *http.Request) {
	st, err := s.en.VoterState(r.Context(), r.PathValue("id"))
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// controlUnlock: POST /control/v1/voters/{id}/unlock, the hotline ends a voter's
// lockout and forgets their wrong codes (someone else's guesses locked them out);
// it answers the voter's state afterwards, as controlVoter does. The engine logs
// it (without any secret) and counts it in scrutin_voter_unlocks_total.
func (s *Server) controlUnlock(w http.ResponseWriter, r *http.Request) {
	st, err := s.en.UnlockVoter(r.Context(), r.PathValue("id"))
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// resendRequest is the body of POST /control/v1/voters/{id}/resend.
type resendRequest struct {
	// RequestedBy is who asked (the hotline agent's Kubernetes user name): the
	// audit log records it.
	RequestedBy string `json:"requestedBy"`
}

// controlResend: POST /control/v1/voters/{id}/resend, the hotline resends a
// voter's code or re-issues their credential letter (engine.Resend); it answers
// the voter's state afterwards, as controlVoter does. 409 no-pending-sign-in
// (a code method, and the voter asked for no code), 409 already-voted (no
// credential is re-issued), 429 resend-too-soon or locked-out, 400 requested-by.
func (s *Server) controlResend(w http.ResponseWriter, r *http.Request) {
	var req resendRequest
	if !decodeBody(w, r, &req, signInBytes) {
		return
	}
	st, err := s.en.Resend(r.Context(), r.PathValue("id"), req.RequestedBy)
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// controlUnreached: GET /control/v1/deliveries/unreached?limit=N, the voters
// whose latest code or letter failed or bounced with nothing sent since, newest
// first (engine.Unreached): {"voters": [...]}, never an address nor a secret.
func (s *Server) controlUnreached(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "limit", "limit must be a positive number")
			return
		}
		limit = n
	}
	voters, err := s.en.Unreached(r.Context(), limit)
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"voters": voters})
}

type proxyRequest struct {
	// Holder is the voter id of the member the voter gives their vote to.
	Holder string `json:"holder"`
}

type proxyResponse struct {
	// Allowed: the voter may give or withdraw a proxy now (voters give
	// proxies, and the deadline has not passed).
	Allowed  bool   `json:"allowed"`
	Deadline string `json:"deadline,omitempty"`
	// Given is the holder of the proxy the voter gave, if any.
	Given *engine.MandateView `json:"given,omitempty"`
	// Mandates are the proxies the voter holds.
	Mandates []engine.MandateView `json:"mandates"`
}

// getProxy: GET /api/v1/proxy, the proxy the voter gave and those they hold.
func (s *Server) getProxy(w http.ResponseWriter, r *http.Request, sess store.Session) {
	if !s.en.Proxies() {
		s.engineError(w, r, engine.ErrNoProxies)
		return
	}
	s.getProxyStatus(w, r, sess, http.StatusOK)
}

// postProxy: POST /api/v1/proxy {"holder"}: the voter gives their vote to the
// holder, before the deadline, where voters give proxies.
func (s *Server) postProxy(w http.ResponseWriter, r *http.Request, sess store.Session) {
	var req proxyRequest
	if !decodeBody(w, r, &req, 4<<10) {
		return
	}
	if err := s.en.GiveProxy(r.Context(), sess.VoterID, req.Holder); err != nil {
		s.engineError(w, r, err)
		return
	}
	s.getProxyStatus(w, r, sess, http.StatusCreated)
}

// deleteProxy: DELETE /api/v1/proxy: the voter withdraws the proxy they gave.
func (s *Server) deleteProxy(w http.ResponseWriter, r *http.Request, sess store.Session) {
	if err := s.en.WithdrawProxy(r.Context(), sess.VoterID); err != nil {
		s.engineError(w, r, err)
		return
	}
	s.getProxyStatus(w, r, sess, http.StatusOK)
}

func (s *Server) getProxyStatus(w http.ResponseWriter, r *http.Request, sess store.Session, status int) {
	vp, err := s.en.ProxiesOf(r.Context(), sess.VoterID)
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	writeJSON(w, status, proxyResponse{Allowed: vp.Allowed, Deadline: timeJSON(vp.Deadline), Given: vp.Given, Mandates: vp.Mandates})
}
