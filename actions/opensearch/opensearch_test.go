package opensearch_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	oss "github.com/aws/aws-sdk-go-v2/service/opensearchserverless"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/actions/opensearch"
	"github.com/thinktank/catobot/fakes/opensearchfake"
	"github.com/thinktank/catobot/internal/awstest"
	"github.com/thinktank/catobot/internal/configtest"
)

const ()

type env struct {
	action *opensearch.Action
	fake   *opensearchfake.Fake
}

func setup(t *testing.T, dryRun bool) env {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	fake := opensearchfake.New()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)

	client := oss.NewFromConfig(awstest.Config(srv.URL))
	a, err := opensearch.New(opensearch.DefaultConfig(), client, opensearch.Options{DryRun: dryRun})
	require.NoError(t, err)
	return env{action: a, fake: fake}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(f *opensearchfake.Fake)
		wantFlds []actions.Field
	}{
		{
			name: "limits set",
			wantFlds: []actions.Field{
				{Name: "max indexing capacity (OCU)", Value: "10"},
				{Name: "max search capacity (OCU)", Value: "10"},
				{Name: "collections", Value: "cato-memory (ACTIVE)"},
			},
		},
		{
			name: "limits unset, no collections",
			prepare: func(f *opensearchfake.Fake) {
				f.SetLimits(0, 0)
				f.SetCollections()
			},
			wantFlds: []actions.Field{
				{Name: "max indexing capacity (OCU)", Value: "unset"},
				{Name: "max search capacity (OCU)", Value: "unset"},
				{Name: "collections", Value: "none"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, false)
			if tt.prepare != nil {
				tt.prepare(e.fake)
			}
			got, err := e.action.Status(context.Background())
			require.NoError(t, err)
			want := actions.Status{
				Component: actions.OpenSearch, Title: "OpenSearch Serverless", Target: "account capacity limits",
				State: "auto-scaling", Fields: tt.wantFlds,
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("Status() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		want     actions.Plan
		wantKind actions.Kind
		wantMsg  string
	}{
		{
			name: "both", args: []string{"indexing=20", "search=30"},
			want: actions.Plan{
				Component: actions.OpenSearch, Verb: actions.VerbScale, Target: "account capacity limits",
				Summary: "OpenSearch Serverless: max indexing 10 → 20, max search 10 → 30 OCUs",
				Changes: []actions.Change{
					{Field: "max_indexing_ocu", From: "10", To: "20"},
					{Field: "max_search_ocu", From: "10", To: "30"},
				},
				Params: map[string]string{"indexing": "20", "search": "30"},
			},
		},
		{
			name: "search only, lower", args: []string{"Search=4"},
			want: actions.Plan{
				Component: actions.OpenSearch, Verb: actions.VerbScale, Target: "account capacity limits",
				Summary: "OpenSearch Serverless: max search 10 → 4 OCUs",
				Changes: []actions.Change{{Field: "max_search_ocu", From: "10", To: "4"}},
				Params:  map[string]string{"indexing": "10", "search": "4"},
				Warnings: []string{
					"max search capacity 10 → 4 is more than ÷2 in one step.",
					"Lowering the maximum search capacity caps how far collections can scale; search may slow down under load.",
				},
			},
		},
		{
			name: "below the API minimum", args: []string{"indexing=1"}, wantKind: actions.KindUsage,
			wantMsg: "indexing=1 is below the lowest allowed, 2",
		},
		{
			name: "above the guardrail", args: []string{"search=500"}, wantKind: actions.KindUsage,
			wantMsg: "search=500 is above the highest allowed, 200",
		},
		{
			name: "not a number", args: []string{"indexing=ten"}, wantKind: actions.KindUsage,
			wantMsg: "indexing=ten is not a whole number of OCUs",
		},
		{
			name: "bare number", args: []string{"20"}, wantKind: actions.KindUsage,
			wantMsg: `"20" is not indexing=N or search=N; usage: scale opensearch indexing=N search=N (either or both, maximum OCUs)`,
		},
		{
			name: "no argument", wantKind: actions.KindUsage,
			wantMsg: "usage: scale opensearch indexing=N search=N (either or both, maximum OCUs)",
		},
		{
			name: "unchanged", args: []string{"indexing=10", "search=10"}, wantKind: actions.KindUsage,
			wantMsg: "the account already allows indexing=10 search=10 OCUs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, false)
			got, err := e.action.Plan(context.Background(), actions.Request{
				Component: actions.OpenSearch, Verb: actions.VerbScale, Args: tt.args,
			})
			if tt.wantMsg != "" {
				require.Error(t, err)
				require.Equal(t, tt.wantKind, actions.KindOf(err))
				require.Equal(t, tt.wantMsg, actions.Explain(err))
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Plan() mismatch (-got +want):\n%s", diff)
			}
			require.Zero(t, e.fake.Recorder.Count("UpdateAccountSettings"))
		})
	}
}

func TestRun(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	p, err := e.action.Plan(ctx, actions.Request{
		Component: actions.OpenSearch, Verb: actions.VerbScale, Args: []string{"indexing=40"},
	})
	require.NoError(t, err)

	var progress []string
	res, err := e.action.Run(ctx, p, func(s string) { progress = append(progress, s) })
	require.NoError(t, err)
	require.Equal(t, "OpenSearch Serverless now scales up to 40 indexing and 10 search OCUs", res.Summary)
	require.Equal(t, []string{"UpdateAccountSettings accepted"}, progress)
	indexing, search := e.fake.Limits()
	require.Equal(t, int32(40), indexing)
	require.Equal(t, int32(10), search)

	calls := e.fake.Recorder.Calls()
	last := calls[len(calls)-1]
	require.Equal(t, "UpdateAccountSettings", last.Op)
	require.Equal(t, "aoss", last.Service)
	var body map[string]any
	require.NoError(t, json.Unmarshal(last.Body, &body))
	want := map[string]any{"capacityLimits": map[string]any{
		"maxIndexingCapacityInOCU": float64(40), "maxSearchCapacityInOCU": float64(10),
	}}
	if diff := cmp.Diff(body, want); diff != "" {
		t.Errorf("UpdateAccountSettings body mismatch (-got +want):\n%s", diff)
	}
}

func TestRunDryRun(t *testing.T) {
	e := setup(t, true)
	ctx := context.Background()
	p, err := e.action.Plan(ctx, actions.Request{
		Component: actions.OpenSearch, Verb: actions.VerbScale, Args: []string{"indexing=20", "search=20"},
	})
	require.NoError(t, err)

	res, err := e.action.Run(ctx, p, nil)
	require.NoError(t, err)
	require.Equal(t, actions.Result{DryRun: true, Summary: "dry run: would call UpdateAccountSettings(" +
		"max_indexing_capacity_in_ocu=20, max_search_capacity_in_ocu=20)"}, res)
	require.Zero(t, e.fake.Recorder.Count("UpdateAccountSettings"))
}

func TestRunAPIErrors(t *testing.T) {
	tests := []struct {
		name     string
		failure  opensearchfake.Failure
		wantKind actions.Kind
		wantMsg  string
	}{
		{
			name: "validation",
			failure: opensearchfake.Failure{Code: "ValidationException",
				Message: "Member must have value greater than or equal to 2"},
			wantKind: actions.KindUsage,
			wantMsg:  "OpenSearch Serverless refused the limits: Member must have value greater than or equal to 2",
		},
		{
			name:     "quota",
			failure:  opensearchfake.Failure{Code: "ServiceQuotaExceededException", Message: "Max OCU limit exceeded"},
			wantKind: actions.KindRefused,
			wantMsg: "the new limits exceed the account's OpenSearch Serverless quota (Max OCU limit exceeded); " +
				"ask AWS for a quota increase first",
		},
		{
			name:     "internal",
			failure:  opensearchfake.Failure{Status: 500, Code: "InternalServerException", Message: "oops"},
			wantKind: actions.KindUnavailable,
			wantMsg:  "OpenSearch Serverless failed inside (oops); try again later",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, false)
			ctx := context.Background()
			p, err := e.action.Plan(ctx, actions.Request{
				Component: actions.OpenSearch, Verb: actions.VerbScale, Args: []string{"search=20"},
			})
			require.NoError(t, err)
			e.fake.Fail("UpdateAccountSettings", tt.failure)

			_, err = e.action.Run(ctx, p, nil)
			require.Error(t, err)
			require.Equal(t, tt.wantKind, actions.KindOf(err))
			require.Equal(t, tt.wantMsg, actions.Explain(err))
			require.NotContains(t, err.Error(), awstest.SecretKey)
			require.NotContains(t, err.Error(), awstest.AccessKey)
		})
	}
}

func TestFakeRefusesBelowMinimum(t *testing.T) {
	e := setup(t, false)
	// A plan the action itself would never make: the fake answers as AWS does.
	p := actions.Plan{Component: actions.OpenSearch, Verb: actions.VerbScale, Target: "account capacity limits",
		Params: map[string]string{"indexing": "1"}}

	_, err := e.action.Run(context.Background(), p, nil)
	require.Equal(t, actions.KindUsage, actions.KindOf(err))
	require.Contains(t, actions.Explain(err), "Member must have value greater than or equal to 2")
}

func TestConfig(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string
	}{
		{file: "conf.good.yml"},
		{file: "conf.indexing_min.yml", wantErr: "indexing: min must be at least 2, the API's lowest, got 1"},
		{file: "conf.search_order.yml", wantErr: "search: max (2) must not be below min (4)"},
		{file: "conf.unknown_key.yml", wantErr: "field max_ocu not found"},
	}
	require.NoError(t, opensearch.DefaultConfig().Validate())
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := configtest.Load(t, tt.file, opensearch.DefaultConfig())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := opensearch.DefaultConfig()
	cfg.Search.Min = 1
	_, err := opensearch.New(cfg, &oss.Client{}, opensearch.Options{})
	require.EqualError(t, err, "opensearch config: search: min must be at least 2, the API's lowest, got 1")
}
