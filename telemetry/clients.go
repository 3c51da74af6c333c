package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// maxSlackBody bounds how much of a Slack answer is read to find its error
// code; Web API answers the bot reads are far smaller.
const maxSlackBody = 8 << 20

// SlackHTTPClient returns a copy of base (a new client when nil) whose
// transport counts failed Slack Web API calls and socket reconnects. Pass
// it to slack.OptionHTTPClient. It reads no token and logs nothing.
func (m *Metrics) SlackHTTPClient(base *http.Client) *http.Client {
	return m.wrap(base, func(next http.RoundTripper) http.RoundTripper {
		return slackTransport{m: m, next: next}
	})
}

// PagerDutyHTTPClient returns a copy of base (a new client when nil) whose
// transport counts PagerDuty answers of HTTP 400 and above, and requests
// that got no answer. Each retry counts.
func (m *Metrics) PagerDutyHTTPClient(base *http.Client) *http.Client {
	return m.wrap(base, func(next http.RoundTripper) http.RoundTripper {
		return pagerTransport{m: m, next: next}
	})
}

func (m *Metrics) wrap(base *http.Client, f func(http.RoundTripper) http.RoundTripper) *http.Client {
	c := &http.Client{}
	if base != nil {
		cp := *base
		c = &cp
	}
	if m == nil {
		return c
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = f(next)
	return c
}

type slackTransport struct {
	m    *Metrics
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t slackTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := path.Base(req.URL.Path)
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.m.SlackError(method, statusLabel(nil, err))
		return resp, err
	}
	if resp.StatusCode != http.StatusOK {
		t.m.SlackError(method, "http_"+strconv.Itoa(resp.StatusCode))
		return resp, nil
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxSlackBody))
	rest := resp.Body
	resp.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(body), rest), Closer: rest}
	if rerr != nil {
		return resp, nil
	}
	var answer struct {
		OK    *bool  `json:"ok"`
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &answer) != nil || answer.OK == nil {
		return resp, nil
	}
	switch {
	case !*answer.OK:
		code := answer.Error
		if code == "" {
			code = "unknown"
		}
		t.m.SlackError(method, code)
	case method == "apps.connections.open":
		t.m.SocketOpened()
	}
	return resp, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

type pagerTransport struct {
	m    *Metrics
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t pagerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	api := "rest"
	if req.URL.Path == "/v2/enqueue" {
		api = "events"
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode >= http.StatusBadRequest {
		t.m.PagerDutyError(api, statusLabel(resp, err))
	}
	return resp, err
}

// AWSAPIOption counts every AWS call that ends in an error, after the
// SDK's retries. Append it to aws.Config.APIOptions before building the
// service clients.
func (m *Metrics) AWSAPIOption(stack *middleware.Stack) error {
	if m == nil {
		return nil
	}
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CatobotErrorMetrics",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
			middleware.InitializeOutput, middleware.Metadata, error,
		) {
			out, md, err := next.HandleInitialize(ctx, in)
			if err != nil {
				m.AWSError(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), awsCode(err))
			}
			return out, md, err
		}), middleware.After)
}

// awsCode is the API error code of err, or what kept an answer from coming.
func awsCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() != "" {
		return ae.ErrorCode()
	}
	return statusLabel(nil, err)
}
