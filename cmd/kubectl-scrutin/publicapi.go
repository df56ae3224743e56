package main

// A client of an election's public URL: what voters, trustees and auditors
// reach without any cluster access.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// maxElectionRecord bounds what is read of an election record.
const maxElectionRecord = 4 << 20

// maxAnswer bounds what is read of a JSON answer.
const maxAnswer = 1 << 20

// publicClient talks to an election's public URL.
type publicClient struct {
	base *url.URL
	http *http.Client
}

// newPublicClient checks the URL (http or https, a host, no query) and makes a
// client keeping the session cookie.
func newPublicClient(raw string) (*publicClient, error) {
	if raw == "" {
		return nil, usageError{errors.New("--url is required: the election's public address, as voters reach it")}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, usageError{fmt.Errorf("--url %q: give the election's public address, such as https://vote.example.org", raw)}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	// No overall timeout: an archive of many ballots takes long to download;
	// each request has its own context.
	return &publicClient{base: u, http: &http.Client{Jar: jar, Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
	}}}, nil
}

func (c *publicClient) url(path string) string { return c.base.String() + path }

// apiFailure is an error answer of the runtime's API.
type apiFailure struct {
	Status  int
	Code    string `json:"error"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	// RetryAfterSeconds and AttemptsLeft, when the runtime says them.
	RetryAfterSeconds int  `json:"retryAfterSeconds"`
	AttemptsLeft      *int `json:"attemptsLeft"`
}

func (e *apiFailure) Error() string {
	switch {
	case e.Code != "" && e.Message != "":
		return fmt.Sprintf("%s (HTTP %d %s)", e.Message, e.Status, e.Code)
	case e.Code != "":
		return fmt.Sprintf("HTTP %d %s", e.Status, e.Code)
	}
	return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
}

// do sends a request (body marshalled as JSON when not nil) and returns the
// answer when its status is one of want; any other status is an *apiFailure.
func (c *publicClient) do(ctx context.Context, method, path string, body any, want ...int) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		var raw []byte
		switch b := body.(type) {
		case []byte:
			raw = b
		default:
			var err error
			if raw, err = json.Marshal(body); err != nil {
				return nil, err
			}
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "kubectl-scrutin/"+version())
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("while reaching %s: %w", c.base.Host, unwrapURLError(err))
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	f := &apiFailure{Status: resp.StatusCode}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if json.Unmarshal(raw, f) != nil {
		f.Code, f.Message = "", ""
	}
	f.Status = resp.StatusCode
	return nil, f
}

// getJSON GETs path and decodes its 200 answer into v.
func (c *publicClient) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil, http.StatusOK)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(v)
}

// electionRecord downloads the election record's exact bytes.
func (c *publicClient) electionRecord(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/election.json", nil, http.StatusOK)
	if err != nil {
		var f *apiFailure
		if errors.As(err, &f) && f.Status == http.StatusNotFound {
			return nil, fmt.Errorf("%s publishes no election record: is this Election in the verifiable mode (spec.verifiability.mode: Belenios)? (%w)", c.base, err)
		}
		return nil, fmt.Errorf("while downloading the election record: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxElectionRecord+1))
	if err != nil {
		return nil, fmt.Errorf("while downloading the election record: %w", err)
	}
	if len(raw) > maxElectionRecord {
		return nil, fmt.Errorf("the election record is larger than %d MiB: that is not a record Scrutin publishes", maxElectionRecord>>20)
	}
	return raw, nil
}

// board opens the public board (the .bel archive); the caller closes it.
func (c *publicClient) board(ctx context.Context) (io.ReadCloser, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/board.bel", nil, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("while downloading the board: %w", err)
	}
	return resp.Body, nil
}

func jsonDecode(r io.Reader, v any) error {
	return json.NewDecoder(r).Decode(v)
}
