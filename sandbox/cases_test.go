package sandbox_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/app"
	"github.com/thinktank/catobot/fakes/pdfake"
	"github.com/thinktank/catobot/fakes/slackfake"
	"github.com/thinktank/catobot/sandbox"
)

// The shared cases for PagerDuty, both ways: each webhook event type drives
// the one card, the card's buttons act in PagerDuty as the clicker, and a
// storm neither floods the channel nor loses an incident.

const incidentID = "Q1SHAD0WS3LF7X"

func readCase(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(casesDir(t), name))
	require.NoError(t, err)
	return raw
}

// postCard delivers the triggered webhook and returns the card once it
// shows its buttons.
func postCard(t *testing.T, sb *sandbox.Sandbox, url string) slackfake.Message {
	t.Helper()
	body := seedTriggered(t, sb)
	require.Equal(t, 2, postWebhook(t, url, body)/100)
	sn := waitSnap(t, sb, "the incident card", func(sn slackfake.Snapshot) bool {
		return len(sn.Messages) == 1 && hasButton(sn.Messages[0], "Acknowledge")
	})
	return sn.Messages[0]
}

func TestCasesWebhookEventsDriveOneCard(t *testing.T) {
	sb := newSandbox(t)
	url := runBot(t, sb, nil)
	card := postCard(t, sb, url)
	require.Contains(t, card.Rendered, "Shadow Self latency p99")
	require.True(t, hasButton(card, "Scale Shadow Self"), "the suggested runbook step: %s", card.Rendered)
	require.True(t, hasButton(card, "Escalate"))
	require.True(t, hasButton(card, "Resolve"))

	// In the order PagerDuty sent them; each file has its own event id.
	steps := []struct {
		file string
		want string
		cond func(card slackfake.Message, thread []slackfake.Message) bool
	}{
		{"incident.acknowledged.json", "acknowledged by Alex Rivera, no Acknowledge", func(c slackfake.Message, _ []slackfake.Message) bool {
			return strings.Contains(c.Rendered, "acknowledged by Alex Rivera") && !hasButton(c, "Acknowledge") && hasButton(c, "Resolve")
		}},
		{"incident.unacknowledged.json", "triggered again with Acknowledge", func(c slackfake.Message, _ []slackfake.Message) bool {
			return strings.Contains(c.Rendered, "triggered") && !strings.Contains(c.Rendered, "acknowledged by") && hasButton(c, "Acknowledge")
		}},
		{"incident.escalated.json", "the new assignee Sam Okafor", func(c slackfake.Message, _ []slackfake.Message) bool {
			return strings.Contains(c.Rendered, "Sam Okafor") && hasButton(c, "Acknowledge")
		}},
		{"incident.reassigned.json", "the new assignee Jun Nakamura", func(c slackfake.Message, _ []slackfake.Message) bool {
			return strings.Contains(c.Rendered, "Jun Nakamura") && !strings.Contains(c.Rendered, "Sam Okafor")
		}},
		{"incident.annotated.json", "the note in the thread", func(_ slackfake.Message, th []slackfake.Message) bool {
			return countIn(th, "scaled cato-shadow-self/primary 2") == 1
		}},
		{"incident.resolved.json", "resolved, every button gone", func(c slackfake.Message, _ []slackfake.Message) bool {
			return strings.Contains(c.Rendered, "resolved") && len(c.Buttons()) == 0
		}},
	}
	for _, st := range steps {
		body := readCase(t, "pagerduty/webhook_v3/"+st.file)
		require.Equal(t, http.StatusAccepted, postWebhook(t, url, body), st.file)
		waitSnap(t, sb, st.file+": "+st.want, func(sn slackfake.Snapshot) bool {
			c, ok := topLevel(sn, card.TS)
			return ok && st.cond(c, sn.Thread(card.TS))
		})
		require.Len(t, sb.Slack.Messages(), 1, "%s: the same card, never a second one", st.file)
	}
	quiet(t, sb)
	require.Len(t, sb.Slack.Messages(), 1)
	require.Equal(t, 1, countIn(sb.Slack.Thread(card.TS), "Note from"), "one note in the thread")
}

func TestCasesEscalateClick(t *testing.T) {
	sb := newSandbox(t)
	url := runBot(t, sb, nil)
	card := postCard(t, sb, url)

	// The case's click, moved onto the card the bot posted.
	raw := readCase(t, "slack/socket/interactive_block_actions_pd_escalate.json")
	raw = bytes.ReplaceAll(raw, []byte("1773454626.001200"), []byte(card.TS))
	_, err := sb.Slack.SendRaw(testCtx(t), raw)
	require.NoError(t, err)

	sn := waitSnap(t, sb, "the escalation in the thread", func(sn slackfake.Snapshot) bool {
		return countIn(sn.Thread(card.TS), "consciousness-team") > 0
	})
	msg := sn.Thread(card.TS)[0]
	require.Contains(t, msg.Text, "escalated this to consciousness-team")
	require.Contains(t, msg.Text, "consciousness-team@thinktank.ai", "the runbook's contact")

	var puts []pdfake.Call
	for _, c := range sb.PagerDuty.Calls() {
		if c.Method == http.MethodPut {
			puts = append(puts, c)
		}
	}
	require.Len(t, puts, 1)
	require.Equal(t, "/incidents/"+incidentID, puts[0].Path)
	require.Equal(t, "alex.rivera@example.com", puts[0].From, "PagerDuty is told who clicked")
	require.Contains(t, string(puts[0].Body), "escalation_level")
	inc, ok := sb.PagerDuty.Incident(incidentID)
	require.True(t, ok)
	require.NotEmpty(t, inc.Assignments)
	require.Equal(t, pdfake.SamID, inc.Assignments[0].Assignee.ID, "the next escalation level holds the incident now")
}

func TestCasesPagerDutyRefusesTheClicker(t *testing.T) {
	tests := []struct {
		name string
		file string
	}{
		{"missing From header", "error_missing_from_header.response.json"},
		{"malformed From header", "error_malformed_from_header.response.json"},
		{"requester user not found", "error_requester_user_not_found.response.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := newSandbox(t)
			url := runBot(t, sb, nil)
			card := postCard(t, sb, url)
			body := readCase(t, "pagerduty/rest/"+tt.file)
			sb.PagerDuty.Queue(pdfake.Reply{Method: http.MethodPut, Path: "/incidents/" + incidentID,
				Status: http.StatusBadRequest, Body: body}, 1)

			_, err := sb.Slack.Click(testCtx(t), slackfake.ClickArgs{User: sandbox.SecondUser, Label: "Acknowledge", MessageTS: card.TS})
			require.NoError(t, err)
			waitSnap(t, sb, "the clicker told privately", func(sn slackfake.Snapshot) bool {
				return countIn(sn.EphemeralsFor(sandbox.SecondUser), "Your email maps to no PagerDuty user") == 1
			})
			quiet(t, sb)
			puts := 0
			for _, c := range sb.PagerDuty.Calls() {
				if c.Method == http.MethodPut {
					puts++
				}
			}
			require.Equal(t, 1, puts, "no retry")
			inc, _ := sb.PagerDuty.Incident(incidentID)
			require.Equal(t, "triggered", inc.Status)
			require.Empty(t, sb.Slack.Thread(card.TS), "nothing claimed in the thread")
		})
	}
}

func TestCasesNoEmailToldPrivately(t *testing.T) {
	const noMail = "U0NOMAIL01"
	sb := newSandbox(t)
	url := runBot(t, sb, func(o *app.Options) {
		o.Config.Access.Users = append(o.Config.Access.Users, noMail)
	})
	card := postCard(t, sb, url)

	_, err := sb.Slack.Click(testCtx(t), slackfake.ClickArgs{User: noMail, Label: "Acknowledge", MessageTS: card.TS})
	require.NoError(t, err)
	waitSnap(t, sb, "the clicker told privately", func(sn slackfake.Snapshot) bool {
		return countIn(sn.EphemeralsFor(noMail), "shows no email") == 1
	})
	quiet(t, sb)
	for _, c := range sb.PagerDuty.Calls() {
		require.Equal(t, http.MethodGet, c.Method, "nothing is sent to PagerDuty for a person without email: %s %s", c.Method, c.Path)
	}
	inc, _ := sb.PagerDuty.Incident(incidentID)
	require.Equal(t, "triggered", inc.Status)
}

// stormIncident rewrites the triggered case into incident n of a storm.
func stormIncident(body []byte, n int) (id string, out []byte) {
	id = fmt.Sprintf("QSTORM%08d", n)
	out = bytes.ReplaceAll(body, []byte(incidentID), []byte(id))
	out = bytes.ReplaceAll(out, []byte("01HX5K2B9R7T3M0CATO0000001"), fmt.Appendf(nil, "01HX5K2B9R7T3M0STORM%06d", n))
	out = bytes.ReplaceAll(out, []byte(`"number": 4821`), fmt.Appendf(nil, `"number": %d`, 5000+n))
	return id, out
}

var cardNumber = regexp.MustCompile(`#(\d{4})\b`)

// A storm of 50 incidents against Slack's per-channel rate limit: related
// incidents (the same suggested step on one service) fold into one card,
// every incident reaches a card, the 429s are waited out, and nothing is
// lost.
func TestCasesStormRateLimited(t *testing.T) {
	const n = 50
	sb := newSandbox(t)
	url := runBot(t, sb, nil)
	sb.Slack.SetRateLimit(slackfake.RateLimit{Messages: 5, Window: time.Second, RetryAfter: time.Second})

	body := readCase(t, "pagerduty/webhook_v3/incident.triggered.json")
	alerts := readCase(t, "pagerduty/rest/get_incident_alerts_sagemaker_latency.json")
	for i := range n {
		id, b := stormIncident(body, i)
		require.NoError(t, sb.PagerDuty.SeedIncidents(append(append([]byte(`{"incident":`), incidentData(t, b)...), '}')))
		if i%2 == 0 {
			// Half carry the SageMaker latency alert (one runbook step);
			// the others match no rule and get a card each.
			a := bytes.ReplaceAll(alerts, []byte(incidentID), []byte(id))
			a = bytes.ReplaceAll(a, []byte("A0LAT0P99001"), fmt.Appendf(nil, "A0STORM%05d", i))
			require.NoError(t, sb.PagerDuty.SeedAlerts(a))
		}
		// PagerDuty retries a delivery answered 5xx.
		for try := 0; ; try++ {
			s := postWebhook(t, url, b)
			if s/100 == 2 {
				break
			}
			require.Less(t, try, 100, "delivery %d refused: %d", i, s)
			time.Sleep(100 * time.Millisecond)
		}
	}

	cards := func(sn slackfake.Snapshot) map[int]int {
		seen := map[int]int{}
		for _, m := range sn.Messages {
			nums := map[int]bool{}
			for _, sub := range cardNumber.FindAllStringSubmatch(m.Rendered, -1) {
				var k int
				_, _ = fmt.Sscan(sub[1], &k)
				nums[k] = true
			}
			for k := range nums {
				seen[k]++
			}
		}
		return seen
	}
	waitSnap(t, sb, "every incident on a card", func(sn slackfake.Snapshot) bool {
		return len(cards(sn)) == n
	})
	quiet(t, sb)
	sn := sb.Slack.Snapshot()
	for k, c := range cards(sn) {
		require.Equal(t, 1, c, "incident #%d is on one card only", k)
		require.True(t, k >= 5000 && k < 5000+n, "unexpected incident #%d", k)
	}
	require.Positive(t, sb.Slack.RateLimited(), "the storm hit Slack's rate limit")
	require.Less(t, len(sn.Messages), n, "related incidents were grouped")
	grouped := 0
	for _, m := range sn.Messages {
		if strings.Contains(m.Rendered, "related incidents grouped here") {
			grouped++
		}
	}
	require.Positive(t, grouped, "at least one card lists grouped incidents")
	ok := 0
	for _, c := range sb.Slack.Calls() {
		if c.Method == "chat.postMessage" && c.Error == "" {
			ok++
		}
	}
	require.Equal(t, len(sn.Messages), ok, "every post that got through is a card, and every card got through")
	t.Logf("%d incidents on %d cards; %d posts answered 429", n, len(sn.Messages), sb.Slack.RateLimited())
}

// A card Slack refuses as invalid_blocks still reaches the channel, as
// plain text.
func TestCasesInvalidBlocksFallBackToText(t *testing.T) {
	sb := newSandbox(t)
	url := runBot(t, sb, nil)
	body := seedTriggered(t, sb)
	sb.Slack.FailNext("chat.postMessage", slackfake.Failure{Error: "invalid_blocks"})
	require.Equal(t, http.StatusAccepted, postWebhook(t, url, body))

	sn := waitSnap(t, sb, "the card as plain text", func(sn slackfake.Snapshot) bool {
		return len(sn.Messages) == 1
	})
	m := sn.Messages[0]
	require.Contains(t, m.Text, "Shadow Self latency p99")
	require.Contains(t, m.Text, "suggested:", "the plain text keeps the suggested step")
	require.Empty(t, m.Buttons())
	var posts []slackfake.Call
	for _, c := range sb.Slack.Calls() {
		if c.Method == "chat.postMessage" {
			posts = append(posts, c)
		}
	}
	require.Len(t, posts, 2)
	require.Equal(t, "invalid_blocks", posts[0].Error)
	require.Empty(t, posts[1].Error)
}
