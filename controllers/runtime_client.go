package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/internal/specs"
)

// The control API every voting-runtime serves to the controller on its operations
// port (OpsPort, through the ops Service), authenticated with the election's
// control token (Authorization: Bearer): its paths and wire types are
// internal/contract's, shared with the runtime's server.

// RuntimeStatus is what the runtime says of the vote in progress.
type RuntimeStatus = contract.RuntimeStatus

// RuntimeSchedule is a schedule pushed to a runtime.
type RuntimeSchedule = contract.RuntimeSchedule

// RuntimeResults is the tally, after close.
type RuntimeResults = contract.RuntimeResults

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
	return &s, c.do(ctx, t, http.MethodGet, contract.ControlStatus, &s)
}

func (c *HTTPRuntimeClient) Open(ctx context.Context, t RuntimeTarget) error {
	return c.do(ctx, t, http.MethodPost, contract.ControlOpen, nil)
}

func (c *HTTPRuntimeClient) Close(ctx context.Context, t RuntimeTarget) error {
	return c.do(ctx, t, http.MethodPost, contract.ControlClose, nil)
}

func (c *HTTPRuntimeClient) Results(ctx context.Context, t RuntimeTarget) (*RuntimeResults, error) {
	var res RuntimeResults
	return &res, c.do(ctx, t, http.MethodGet, contract.ControlResults, &res)
}

func (c *HTTPRuntimeClient) SetSchedule(ctx context.Context, t RuntimeTarget, s RuntimeSchedule) error {
	return c.doBody(ctx, t, http.MethodPost, contract.ControlSchedule, s, nil)
}

// recordsTimeout bounds the download of a records archive.
const recordsTimeout = 10 * time.Minute

func (c *HTTPRuntimeClient) Records(ctx context.Context, t RuntimeTarget, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, recordsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base(t)+contract.ControlRecords, nil)
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
	return fmt.Sprintf("http://%s.%s.svc:%d", specs.OpsServiceName, t.Namespace, specs.OpsPort)
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
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
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
	case resp.StatusCode == http.StatusConflict && path == contract.ControlResults:
		return ErrNotTallied
	case resp.StatusCode >= 300:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("runtime answered %s to %s %s: %s", resp.Status, method, strings.TrimPrefix(path, contract.ControlPrefix), body)
	case out == nil:
		return nil
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out)
}
