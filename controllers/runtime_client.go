package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// The control API every voting-runtime serves to the controller on its operations
// port (OpsPort, through the ops Service), authenticated with the election's
// control token (Authorization: Bearer):
//
//	GET  /control/v1/status   -> RuntimeStatus
//	POST /control/v1/open     -> 204 (the runtime also opens by itself at opensAt)
//	POST /control/v1/close    -> 204 (the runtime also closes by itself at closesAt)
//	GET  /control/v1/results  -> RuntimeResults; 409 until the tally is done
//	POST /control/v1/schedule {opensAt, closesAt, version} -> 200; 409 once closed
//	     (the runtime records it in its store if version, the Election's
//	     metadata.generation, is newer than the store's: every replica follows it)
//	GET  /control/v1/records  -> the records archive (tar.gz); 409 until tallied
//	     (also to the scrutineers' token, for the archive Job of spec.archive.pvc)
const controlPrefix = "/control/v1/"

// RuntimeStatus is what the runtime says of the vote in progress.
type RuntimeStatus struct {
	Open        bool   `json:"open"`
	Voters      int64  `json:"voters"`
	BallotsCast int64  `json:"ballotsCast"`
	AuditHead   string `json:"auditHead"`
	// Opened: the runtime's store has recorded the opening (by the runtime on its
	// own schedule, or at the controller's nudge).
	Opened bool `json:"opened"`
	// Closed: the runtime's store has recorded the close.
	Closed bool `json:"closed"`
	// Tallied: the runtime's store holds the results.
	Tallied bool `json:"tallied"`
	// ScheduleVersion is the version (an Election generation) of the schedule the
	// runtime's store records.
	ScheduleVersion int64 `json:"scheduleVersion"`
	// Delivery counts the election's codes and credential letters per channel
	// and state, as its store's outbox records them; nil from a runtime that
	// does not report it.
	Delivery *scrutinv1.DeliveryStatus `json:"delivery,omitempty"`
}

// RuntimeSchedule is a schedule pushed to a runtime.
type RuntimeSchedule struct {
	OpensAt  time.Time `json:"opensAt"`
	ClosesAt time.Time `json:"closesAt"`
	Version  int64     `json:"version"`
}

// RuntimeResults is the tally, after close.
type RuntimeResults struct {
	Voters      int64                      `json:"voters"`
	BallotsCast int64                      `json:"ballotsCast"`
	AuditHead   string                     `json:"auditHead"`
	Results     []scrutinv1.QuestionResult `json:"results"`
}

// ErrNotTallied: the runtime has not finished its tally yet.
var ErrNotTallied = errors.New("the tally is not ready yet")

// RuntimeTarget is one election's runtime: its namespace and control token.
type RuntimeTarget struct {
	Namespace string
	Token     string
}

// RuntimeClient talks to elections' runtimes.
type RuntimeClient interface {
	Status(ctx context.Context, t RuntimeTarget) (*RuntimeStatus, error)
	Open(ctx context.Context, t RuntimeTarget) error
	Close(ctx context.Context, t RuntimeTarget) error
	Results(ctx context.Context, t RuntimeTarget) (*RuntimeResults, error)
	SetSchedule(ctx context.Context, t RuntimeTarget, s RuntimeSchedule) error
	// Records writes the election's records archive to w (ErrNotTallied before
	// the tally).
	Records(ctx context.Context, t RuntimeTarget, w io.Writer) error
}

// HTTPRuntimeClient reaches each runtime through its ops Service.
type HTTPRuntimeClient struct {
	HTTP *http.Client
	// BaseURL gives a runtime's operations base URL from its namespace; the ops
	// Service's cluster DNS name and port when nil.
	BaseURL func(namespace string) string
}

func (c *HTTPRuntimeClient) Status(ctx context.Context, t RuntimeTarget) (*RuntimeStatus, error) {
	var s RuntimeStatus
	return &s, c.do(ctx, t, http.MethodGet, "status", &s)
}

func (c *HTTPRuntimeClient) Open(ctx context.Context, t RuntimeTarget) error {
	return c.do(ctx, t, http.MethodPost, "open", nil)
}

func (c *HTTPRuntimeClient) Close(ctx context.Context, t RuntimeTarget) error {
	return c.do(ctx, t, http.MethodPost, "close", nil)
}

func (c *HTTPRuntimeClient) Results(ctx context.Context, t RuntimeTarget) (*RuntimeResults, error) {
	var res RuntimeResults
	return &res, c.do(ctx, t, http.MethodGet, "results", &res)
}

func (c *HTTPRuntimeClient) SetSchedule(ctx context.Context, t RuntimeTarget, s RuntimeSchedule) error {
	return c.doBody(ctx, t, http.MethodPost, "schedule", s, nil)
}

// recordsTimeout bounds the download of a records archive.
const recordsTimeout = 10 * time.Minute

func (c *HTTPRuntimeClient) Records(ctx context.Context, t RuntimeTarget, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, recordsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base(t)+controlPrefix+"records", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	// the client's own timeout is for the short calls: the archive may take longer
	hc = &http.Client{Transport: hc.Transport}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("runtime unreachable: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusConflict:
		return ErrNotTallied
	case resp.StatusCode != http.StatusOK:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("runtime answered %s to GET records: %s", resp.Status, body)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("while reading the records archive: %w", err)
	}
	return nil
}

func (c *HTTPRuntimeClient) base(t RuntimeTarget) string {
	if c.BaseURL != nil {
		return c.BaseURL(t.Namespace)
	}
	return fmt.Sprintf("http://%s.%s.svc:%d", OpsServiceName, t.Namespace, OpsPort)
}

func (c *HTTPRuntimeClient) do(ctx context.Context, t RuntimeTarget, method, path string, out any) error {
	return c.doBody(ctx, t, method, path, nil, out)
}

func (c *HTTPRuntimeClient) doBody(ctx context.Context, t RuntimeTarget, method, path string, in, out any) error {
	base := c.base(t)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+controlPrefix+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("runtime unreachable: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusConflict && path == "results":
		return ErrNotTallied
	case resp.StatusCode >= 300:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("runtime answered %s to %s %s: %s", resp.Status, method, path, body)
	case out == nil:
		return nil
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out)
}
