package bot

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/alerts"
	"github.com/thinktank/catobot/ledger"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares m's blocks and text with testdata/<test name>.golden.json.
func golden(t *testing.T, m message) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(map[string]any{"text": m.Text, "blocks": m.Blocks}))
	got := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	path := filepath.Join("testdata", strings.ReplaceAll(t.Name(), "/", "_")+".golden.json")
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./bot -update to create it")
	if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
		t.Errorf("blocks differ (-want +got):\n%s", diff)
	}
}

func TestCardMessage(t *testing.T) {
	incident := alerts.Incident{
		ID: "QDEMOGPU0HOT1", Number: 7001, Title: "Shadow Self GPU utilization above 80%",
		Status: "triggered", Urgency: "high", Priority: "P2", Service: "Shadow Self Inference",
		Assignees: []string{"Sam Oncall"}, URL: "https://example.invalid/incidents/QDEMOGPU0HOT1",
	}
	match := &alerts.Match{Text: "GPU utilization 87% > 80% on cato-shadow-self/primary"}
	tests := []struct {
		name string
		view cardView
	}{
		{"suggested", cardView{Incident: incident, Match: match, PendingID: "p1", Suggestion: "Shadow Self: 5 → 15 instances", StepLabel: "Scale Shadow Self"}},
		{"no rule", cardView{Incident: incident}},
		{"acknowledged", cardView{Incident: withStatus(incident, "acknowledged"), Agent: "Alex Rivera", Match: match, PendingID: "p1", Suggestion: "Shadow Self: 5 → 15 instances"}},
		{"resolved", cardView{Incident: withStatus(incident, "resolved"), Match: match, PendingID: "p1", Suggestion: "Shadow Self: 5 → 15 instances"}},
		{"acted", cardView{Incident: incident, Match: match, PendingID: "p1", Suggestion: "Shadow Self: 5 → 15 instances", Acted: ":white_check_mark: Done, started by <@U0ONCALL01>"}},
		{"needs approval", cardView{Incident: incident, Match: match, PendingID: "p1", Suggestion: "cache: cache.r7g.xlarge → cache.r7g.2xlarge", Approval: "it causes downtime", Warnings: []string{"this causes downtime"}}},
		{"markup escaped", cardView{Incident: alerts.Incident{ID: "Q1", Title: "<!channel> & <@U1>"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { golden(t, cardMessage(tt.view)) })
	}
}

func withStatus(in alerts.Incident, s string) alerts.Incident {
	in.Status = s
	return in
}

func TestPreviewMessage(t *testing.T) {
	plan := actions.Plan{Component: "ray", Verb: "scale", Target: "cato/cato-orchestrator", Summary: "Ray Serve: 10 → 100 replicas",
		Changes:  []actions.Change{{Field: "replicas", From: "10", To: "100"}},
		Warnings: []string{"the HPA cato-orchestrator-hpa allows at most 50 replicas and will scale back to 50"},
		Extra:    []actions.Plan{{Component: "ray", Verb: "hpa", Summary: "Ray Serve HPA: max 50 → 100"}}}
	tests := []struct {
		name string
		p    ledger.Pending
		note string
	}{
		{"confirm", ledger.Pending{ID: "p1", Plan: plan, RequestedBy: "U0ONCALL01", State: ledger.StatePending}, ""},
		{"approval", ledger.Pending{ID: "p1", Plan: plan, RequestedBy: "U0ONCALL01", State: ledger.StatePending, Approval: "10 → 100 is more than ×4 in one step"}, ""},
		{"started", ledger.Pending{ID: "p1", Plan: plan, RequestedBy: "U0ONCALL01", State: ledger.StateClaimed}, ":arrow_forward: Started by <@U0ONCALL01>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { golden(t, previewMessage(tt.p, tt.note)) })
	}
}

func TestSectionsSplitLongText(t *testing.T) {
	long := strings.Repeat("a line of status text\n", 400)
	blocks := sections(long)
	require.Greater(t, len(blocks), 1)
	total := 0
	for _, b := range blocks {
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		var s struct {
			Text struct{ Text string } `json:"text"`
		}
		require.NoError(t, json.Unmarshal(raw, &s))
		require.LessOrEqual(t, len(s.Text.Text), maxSectionText)
		total += len(s.Text.Text)
	}
	require.Equal(t, len(long), total, "splitting loses no text")
}

func TestParseCommand(t *testing.T) {
	set := actions.Set{"shadow": nil, "ray": nil, "terraform": nil}
	tests := []struct {
		name    string
		text    string
		want    command
		wantErr string
	}{
		{name: "empty is help", text: "", want: command{Name: "help"}},
		{name: "status all", text: "status", want: command{Name: "status"}},
		{name: "status one", text: "status Shadow", want: command{Name: "status", Component: "shadow"}},
		{name: "scale", text: "scale ray 100", want: command{Name: "scale", Component: "ray", Args: []string{"100"}}},
		{name: "relative", text: "scale shadow +10", want: command{Name: "scale", Component: "shadow", Args: []string{"+10"}}},
		{name: "rollback", text: "rollback ray", want: command{Name: "rollback", Component: "ray", Args: []string{}}},
		{name: "tier", text: "tier 1M", want: command{Name: "tier", Component: "terraform", Args: []string{"1m"}}},
		{name: "escalate note", text: "escalate  cache still hot ", want: command{Name: "escalate", Note: "cache still hot"}},
		{name: "unknown component", text: "scale toaster 3", wantErr: `unknown component "toaster"`},
		{name: "missing component", text: "scale", wantErr: "which component?"},
		{name: "missing value", text: "scale ray", wantErr: "what value?"},
		{name: "unknown command", text: "reboot everything", wantErr: `unknown command "reboot"`},
		{name: "status too many", text: "status ray shadow", wantErr: "too many words"},
		{name: "cost args", text: "cost now", wantErr: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCommand(tt.text, set)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("parseCommand(%q) (-got +want):\n%s", tt.text, diff)
			}
		})
	}
}

func TestReverse(t *testing.T) {
	tests := []struct {
		name string
		plan actions.Plan
		want actions.Request
		ok   bool
	}{
		{"scale", actions.Plan{Component: "shadow", Verb: "scale", Changes: []actions.Change{{Field: "instances", From: "5", To: "15"}}}, actions.Request{Component: "shadow", Verb: "scale", Args: []string{"5"}}, true},
		{"dynamo", actions.Plan{Component: "dynamo", Verb: "scale", Changes: []actions.Change{{Field: "read", From: "100", To: "200"}, {Field: "write", From: "50", To: "50"}}}, actions.Request{Component: "dynamo", Verb: "scale", Args: []string{"read=100", "write=50"}}, true},
		{"ray rollback", actions.Plan{Component: "ray", Verb: "rollback"}, actions.Request{Component: "ray", Verb: "rollback"}, true},
		{"terraform", actions.Plan{Component: "terraform", Verb: "apply", Changes: []actions.Change{{Field: "terraform_data.x", To: "update"}}}, actions.Request{Component: "terraform", Verb: "apply"}, true},
		{"nothing recorded", actions.Plan{Component: "cache", Verb: "scale"}, actions.Request{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := reverse(tt.plan)
			require.Equal(t, tt.ok, ok)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("reverse (-got +want):\n%s", diff)
			}
		})
	}
}

func TestApprovalReasons(t *testing.T) {
	l := ledger.New(ledger.NewMemory(), time.Hour)
	b := New(Options{Ledger: l, Limits: map[string]actions.Limits{"shadow": {Min: 1, Max: 250, Cooldown: time.Hour}}})
	tests := []struct {
		name string
		plan actions.Plan
		want []string
	}{
		{"small step", actions.Plan{Component: "shadow", Changes: []actions.Change{{Field: "instances", From: "5", To: "15"}}}, nil},
		{"extra zero", actions.Plan{Component: "shadow", Changes: []actions.Change{{Field: "instances", From: "10", To: "100"}}}, []string{"10 → 100 is more than ×4 in one step"}},
		{"halving", actions.Plan{Component: "shadow", Changes: []actions.Change{{Field: "instances", From: "10", To: "4"}}}, []string{"it scales instances down by more than half (10 → 4)"}},
		{"downtime", actions.Plan{Component: "cache", Downtime: true}, []string{"it causes downtime"}},
		{"terraform", actions.Plan{Component: "terraform", Verb: "apply"}, []string{"it applies Terraform to production"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, b.approvalReasons(t.Context(), tt.plan))
		})
	}
	require.NoError(t, l.SetLastChange(t.Context(), ledger.LastChange{Component: "shadow", At: time.Now().Add(-10 * time.Minute)}))
	got := b.approvalReasons(t.Context(), actions.Plan{Component: "shadow", Changes: []actions.Change{{Field: "instances", From: "5", To: "6"}}})
	require.Len(t, got, 1)
	require.Contains(t, got[0], "within its cooldown of 1h0m0s")
}
