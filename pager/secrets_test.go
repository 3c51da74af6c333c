package pager_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/fakes/pdfake"
	"github.com/thinktank/catobot/pager"
)

// TestErrorsLeakNoSecret makes the fake echo the request's headers and
// body in its error answers and checks that neither the API token nor the
// routing key reaches an error, its message for people, or the logs.
func TestErrorsLeakNoSecret(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		status int
		call   func(c *pager.Client) error
	}{
		{name: "rest 400", status: http.StatusBadRequest,
			call: func(c *pager.Client) error { return c.Acknowledge(ctx, incidentID, alexEmail) }},
		{name: "rest 500 on a read", status: http.StatusInternalServerError,
			call: func(c *pager.Client) error { _, err := c.Incident(ctx, incidentID); return err }},
		{name: "rest 429 exhausted", status: http.StatusTooManyRequests,
			call: func(c *pager.Client) error { return c.AddNote(ctx, incidentID, alexEmail, "n") }},
		{name: "events 400", status: http.StatusBadRequest,
			call: func(c *pager.Client) error {
				_, err := c.Trigger(ctx, pager.Event{Summary: "s", Source: "x", Severity: "critical"})
				return err
			}},
		{name: "events 500", status: http.StatusInternalServerError,
			call: func(c *pager.Client) error {
				_, err := c.Trigger(ctx, pager.Event{Summary: "s", Source: "x", Severity: "critical"})
				return err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incident.json")))
			e.fake.Queue(pdfake.Reply{Status: tt.status, EchoRequest: true}, 10)

			err := tt.call(e.client)
			require.Error(t, err)
			require.Contains(t, err.Error(), "[redacted]", "the fake echoed a secret and it was removed")
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err),
				pager.Message(err), pager.ActionError(err).Error(), e.logs.String()} {
				require.NotContains(t, text, testToken)
				require.NotContains(t, text, testRoutingKey)
			}
		})
	}

	t.Run("transport failure", func(t *testing.T) {
		e := newEnv(t, nil)
		e.fake.Close()
		err := e.client.Acknowledge(ctx, incidentID, alexEmail)
		require.ErrorIs(t, err, pager.ErrUnavailable)
		require.False(t, strings.Contains(err.Error(), testToken))
	})
}
