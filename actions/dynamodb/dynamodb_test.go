package dynamodb_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/actions/dynamodb"
	"github.com/thinktank/catobot/fakes/dynamodbfake"
	"github.com/thinktank/catobot/internal/awstest"
	"github.com/thinktank/catobot/internal/configtest"
)

const (
	table = "cato-semantic-memory-production"
)

// now is the fake's fixed clock: a Friday afternoon, UTC.
var now = time.Date(2026, 12, 4, 16, 30, 0, 0, time.UTC)

type env struct {
	action *dynamodb.Action
	fake   *dynamodbfake.Fake
}

func setup(t *testing.T, dryRun bool, tables ...dynamodbfake.Table) env {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	fake := dynamodbfake.New(tables...)
	fake.SetClock(func() time.Time { return now })
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)

	client := ddb.NewFromConfig(awstest.Config(srv.URL))
	cfg := dynamodb.DefaultConfig()
	cfg.PollInterval, cfg.MaxPollInterval, cfg.WaitTimeout = time.Millisecond, 2*time.Millisecond, time.Minute
	a, err := dynamodb.New(cfg, client, dynamodb.Options{DryRun: dryRun})
	require.NoError(t, err)
	return env{action: a, fake: fake}
}

type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, s)
}

func onDemand() dynamodbfake.Table {
	t := dynamodbfake.Cato()
	t.BillingMode = dynamodbfake.PayPerRequest
	return t
}

func decreasedToday(n int64) dynamodbfake.Table {
	t := dynamodbfake.Cato()
	t.DecreasesToday = n
	t.LastDecrease = now.Add(-50 * time.Minute)
	return t
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name  string
		table dynamodbfake.Table
		want  actions.Status
	}{
		{
			name:  "provisioned",
			table: decreasedToday(2),
			want: actions.Status{
				Component: actions.Dynamo, Title: "DynamoDB", Target: table, State: "ACTIVE",
				Fields: []actions.Field{
					{Name: "billing mode", Value: "provisioned (PROVISIONED)"},
					{Name: "read capacity units", Value: "5000"},
					{Name: "write capacity units", Value: "2500"},
					{Name: "decreases today", Value: "2"},
					{Name: "last decrease", Value: "2026-12-04 15:40 UTC"},
				},
			},
		},
		{
			name:  "on-demand",
			table: onDemand(),
			want: actions.Status{
				Component: actions.Dynamo, Title: "DynamoDB", Target: table, State: "ACTIVE",
				Fields: []actions.Field{
					{Name: "billing mode", Value: "on-demand (PAY_PER_REQUEST), scales automatically"},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, false, tt.table)
			got, err := e.action.Status(context.Background())
			require.NoError(t, err)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Status() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestStatusNotFound(t *testing.T) {
	other := dynamodbfake.Cato()
	other.Name = "cato-semantic-memory-staging"
	e := setup(t, false, other)

	_, err := e.action.Status(context.Background())
	require.Equal(t, actions.KindNotFound, actions.KindOf(err))
	require.Equal(t, "table cato-semantic-memory-production does not exist", actions.Explain(err))
}

func TestPlan(t *testing.T) {
	updating := dynamodbfake.Cato()
	updating.Status = dynamodbfake.StatusUpdating

	tests := []struct {
		name     string
		table    dynamodbfake.Table
		args     []string
		want     actions.Plan
		wantKind actions.Kind
		wantMsg  string
	}{
		{
			name: "both", args: []string{"read=10000", "write=5000"},
			want: actions.Plan{
				Component: actions.Dynamo, Verb: actions.VerbScale, Target: table,
				Summary: "DynamoDB cato-semantic-memory-production: read 5000 → 10000, write 2500 → 5000 capacity units",
				Changes: []actions.Change{
					{Field: "read_capacity_units", From: "5000", To: "10000"},
					{Field: "write_capacity_units", From: "2500", To: "5000"},
				},
				Params: map[string]string{"read": "10000", "write": "5000", "decreases_today": "0"},
			},
		},
		{
			name: "write only, large step", args: []string{"WRITE=20000"},
			want: actions.Plan{
				Component: actions.Dynamo, Verb: actions.VerbScale, Target: table,
				Summary:  "DynamoDB cato-semantic-memory-production: write 2500 → 20000 capacity units",
				Changes:  []actions.Change{{Field: "write_capacity_units", From: "2500", To: "20000"}},
				Params:   map[string]string{"read": "5000", "write": "20000", "decreases_today": "0"},
				Warnings: []string{"write capacity 2500 → 20000 is more than ×4 in one step."},
			},
		},
		{
			name: "decrease after four today", table: decreasedToday(4), args: []string{"read=4000"},
			want: actions.Plan{
				Component: actions.Dynamo, Verb: actions.VerbScale, Target: table,
				Summary: "DynamoDB cato-semantic-memory-production: read 5000 → 4000 capacity units",
				Changes: []actions.Change{{Field: "read_capacity_units", From: "5000", To: "4000"}},
				Params: map[string]string{"read": "4000", "write": "2500", "decreases_today": "4",
					"last_decrease": "2026-12-04T15:40:00Z"},
				Warnings: []string{"DynamoDB allows 4 decreases per table in a UTC day, then one an hour; " +
					"this table has had 4 today. The next decrease is allowed at 2026-12-04 16:40 UTC."},
			},
		},
		{
			name: "on-demand", table: onDemand(), args: []string{"read=100"}, wantKind: actions.KindRefused,
			wantMsg: "cato-semantic-memory-production uses on-demand capacity, which scales automatically; " +
				"there is no provisioned throughput to set, so it is left alone",
		},
		{
			name: "updating", table: updating, args: []string{"read=6000"}, wantKind: actions.KindBusy,
			wantMsg: "cato-semantic-memory-production is UPDATING; wait until it is ACTIVE, then try again",
		},
		{
			name: "unchanged", args: []string{"read=5000"}, wantKind: actions.KindUsage,
			wantMsg: "cato-semantic-memory-production already has read=5000 write=2500",
		},
		{
			name: "no argument", wantKind: actions.KindUsage,
			wantMsg: "usage: scale dynamo read=N write=N (either or both, in capacity units)",
		},
		{
			name: "bare number", args: []string{"100"}, wantKind: actions.KindUsage,
			wantMsg: `"100" is not read=N or write=N; usage: scale dynamo read=N write=N (either or both, in capacity units)`,
		},
		{
			name: "unknown key", args: []string{"rcu=100"}, wantKind: actions.KindUsage,
			wantMsg: `"rcu=100" is not read=N or write=N; usage: scale dynamo read=N write=N (either or both, in capacity units)`,
		},
		{
			name: "twice", args: []string{"read=1", "read=2"}, wantKind: actions.KindUsage,
			wantMsg: "read is given twice; usage: scale dynamo read=N write=N (either or both, in capacity units)",
		},
		{
			name: "not a number", args: []string{"read=lots"}, wantKind: actions.KindUsage,
			wantMsg: "read=lots is not a whole number of capacity units",
		},
		{
			name: "zero", args: []string{"write=0"}, wantKind: actions.KindUsage,
			wantMsg: "write=0 is below the lowest allowed, 1",
		},
		{
			name: "above quota", args: []string{"read=50000"}, wantKind: actions.KindUsage,
			wantMsg: "read=50000 is above the highest allowed, 40000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := tt.table
			if tb.Name == "" {
				tb = dynamodbfake.Cato()
			}
			e := setup(t, false, tb)

			got, err := e.action.Plan(context.Background(), actions.Request{
				Component: actions.Dynamo, Verb: actions.VerbScale, Args: tt.args,
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
			require.Zero(t, e.fake.Recorder.Count("UpdateTable"))
		})
	}
}

func TestRun(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	p, err := e.action.Plan(ctx, actions.Request{
		Component: actions.Dynamo, Verb: actions.VerbScale, Args: []string{"read=10000", "write=5000"},
	})
	require.NoError(t, err)

	var l lines
	res, err := e.action.Run(ctx, p, l.add)
	require.NoError(t, err)
	require.Equal(t, "cato-semantic-memory-production now has read=10000 write=5000 (ACTIVE)", res.Summary)
	want := []string{
		"UpdateTable accepted; cato-semantic-memory-production is UPDATING",
		"UPDATING: read 5000, write 2500",
		"ACTIVE: read 10000, write 5000",
	}
	if diff := cmp.Diff(l.got, want); diff != "" {
		t.Errorf("progress mismatch (-got +want):\n%s", diff)
	}
	tb, _ := e.fake.Table(table)
	require.Equal(t, int64(10000), tb.Read)
	require.Equal(t, int64(5000), tb.Write)
	require.Equal(t, dynamodbfake.StatusActive, tb.Status)
}

func TestRunDecreaseCounts(t *testing.T) {
	e := setup(t, false, decreasedToday(3))
	ctx := context.Background()
	p, err := e.action.Plan(ctx, actions.Request{
		Component: actions.Dynamo, Verb: actions.VerbScale, Args: []string{"read=4000"},
	})
	require.NoError(t, err)

	_, err = e.action.Run(ctx, p, nil)
	require.NoError(t, err)
	tb, _ := e.fake.Table(table)
	require.Equal(t, int64(4), tb.DecreasesToday)

	p, err = e.action.Plan(ctx, actions.Request{
		Component: actions.Dynamo, Verb: actions.VerbScale, Args: []string{"read=3000"},
	})
	require.NoError(t, err)
	_, err = e.action.Run(ctx, p, nil)
	require.Equal(t, actions.KindRefused, actions.KindOf(err))
	require.Equal(t, "DynamoDB refused to lower the throughput of cato-semantic-memory-production: "+
		"a table's throughput may be decreased 4 times in a UTC day, then once an hour; "+
		"the next decrease is allowed at Friday, December 4, 2026 5:30:00 PM UTC", actions.Explain(err))
}

func TestRunDryRun(t *testing.T) {
	e := setup(t, true)
	ctx := context.Background()
	p, err := e.action.Plan(ctx, actions.Request{
		Component: actions.Dynamo, Verb: actions.VerbScale, Args: []string{"read=10000"},
	})
	require.NoError(t, err)

	res, err := e.action.Run(ctx, p, nil)
	require.NoError(t, err)
	require.Equal(t, actions.Result{DryRun: true, Summary: "dry run: would call UpdateTable(" +
		"table_name=cato-semantic-memory-production, read_capacity_units=10000, write_capacity_units=2500)"}, res)
	require.Zero(t, e.fake.Recorder.Count("UpdateTable"))
	tb, _ := e.fake.Table(table)
	require.Equal(t, int64(5000), tb.Read)
}

func TestRunAPIErrors(t *testing.T) {
	tests := []struct {
		name     string
		table    dynamodbfake.Table
		args     []string
		failure  dynamodbfake.Failure
		wantKind actions.Kind
		wantMsg  string
	}{
		{
			name: "decrease limit, next time from the plan", table: decreasedToday(4), args: []string{"read=4000"},
			failure: dynamodbfake.Failure{Code: "LimitExceededException",
				Message: "Subscriber limit exceeded: Provisioned throughput decreases are limited within a given UTC day."},
			wantKind: actions.KindRefused,
			wantMsg: "DynamoDB refused to lower the throughput of cato-semantic-memory-production: " +
				"a table's throughput may be decreased 4 times in a UTC day, then once an hour; " +
				"the next decrease is allowed at 2026-12-04 16:40 UTC",
		},
		{
			name: "decrease limit, no history", args: []string{"read=4000"},
			failure: dynamodbfake.Failure{Code: "LimitExceededException",
				Message: "Subscriber limit exceeded: Provisioned throughput decreases are limited within a given UTC day."},
			wantKind: actions.KindRefused,
			wantMsg: "DynamoDB refused to lower the throughput of cato-semantic-memory-production: " +
				"a table's throughput may be decreased 4 times in a UTC day, then once an hour; try again in an hour",
		},
		{
			name: "too many table operations", args: []string{"read=6000"},
			failure: dynamodbfake.Failure{Code: "LimitExceededException",
				Message: "Too many tables are being created or updated at once."},
			wantKind: actions.KindUnavailable,
			wantMsg: "DynamoDB refused: too many table operations at once in this account " +
				"(Too many tables are being created or updated at once.); try again in a few minutes",
		},
		{
			name: "already updating", args: []string{"read=6000"},
			failure: dynamodbfake.Failure{Code: "ResourceInUseException",
				Message: "Attempt to change a resource which is still in use: Table is being updated"},
			wantKind: actions.KindBusy,
			wantMsg: "cato-semantic-memory-production is being changed already (Attempt to change a resource " +
				"which is still in use: Table is being updated); wait until it is ACTIVE, then try again",
		},
		{
			name: "validation", args: []string{"read=6000"},
			failure: dynamodbfake.Failure{Code: "ValidationException",
				Message: "The provisioned throughput for the table will not change."},
			wantKind: actions.KindUsage,
			wantMsg:  "DynamoDB refused the new throughput: The provisioned throughput for the table will not change.",
		},
		{
			name: "throttled", args: []string{"read=6000"},
			failure:  dynamodbfake.Failure{Code: "ThrottlingException", Message: "Rate of requests exceeds the allowed throughput."},
			wantKind: actions.KindUnavailable,
			wantMsg:  "DynamoDB is throttling the bot's requests; try again in a minute",
		},
		{
			name: "server error", args: []string{"read=6000"},
			failure:  dynamodbfake.Failure{Status: 500, Code: "InternalServerError", Message: "Internal server error"},
			wantKind: actions.KindUnavailable,
			wantMsg:  "DynamoDB is having trouble (InternalServerError); try again in a few minutes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := tt.table
			if tb.Name == "" {
				tb = dynamodbfake.Cato()
			}
			e := setup(t, false, tb)
			ctx := context.Background()
			p, err := e.action.Plan(ctx, actions.Request{Component: actions.Dynamo, Verb: actions.VerbScale, Args: tt.args})
			require.NoError(t, err)
			e.fake.Fail("UpdateTable", tt.failure)

			_, err = e.action.Run(ctx, p, nil)
			require.Error(t, err)
			require.Equal(t, tt.wantKind, actions.KindOf(err))
			require.Equal(t, tt.wantMsg, actions.Explain(err))
			require.NotContains(t, err.Error(), awstest.SecretKey)
			require.NotContains(t, err.Error(), awstest.AccessKey)
		})
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string
	}{
		{file: "conf.good.yml"},
		{file: "conf.empty_table.yml", wantErr: "table_name must not be empty"},
		{file: "conf.read_min.yml", wantErr: "read: min must be at least 1, DynamoDB's lowest, got 0"},
		{file: "conf.write_order.yml", wantErr: "write: max (5) must not be below min (10)"},
		{file: "conf.wait_timeout.yml", wantErr: "wait_timeout must be positive, got 0s"},
		{file: "conf.unknown_key.yml", wantErr: "field tablename not found"},
	}
	require.NoError(t, dynamodb.DefaultConfig().Validate())
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := configtest.Load(t, tt.file, dynamodb.DefaultConfig())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestFollowGivesUp(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	p, err := e.action.Plan(ctx, actions.Request{
		Component: actions.Dynamo, Verb: actions.VerbScale, Args: []string{"read=6000"},
	})
	require.NoError(t, err)
	e.fake.SetSteps(1 << 30)

	srv := httptest.NewServer(e.fake)
	t.Cleanup(srv.Close)
	client := ddb.NewFromConfig(awstest.Config(srv.URL))
	cfg := dynamodb.DefaultConfig()
	cfg.PollInterval, cfg.MaxPollInterval, cfg.WaitTimeout = time.Millisecond, time.Millisecond, 20*time.Millisecond
	a, err := dynamodb.New(cfg, client, dynamodb.Options{})
	require.NoError(t, err)

	_, err = a.Run(ctx, p, nil)
	require.Equal(t, actions.KindBusy, actions.KindOf(err))
	require.False(t, actions.Retryable(err))
	// What was last seen depends on how many reads fit in the timeout.
	require.Contains(t, actions.Explain(err), "cato-semantic-memory-production was not ACTIVE within 20ms; "+
		"the update goes on in DynamoDB, check it with status dynamo")
}

func TestFollowToleratesAFailedRead(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	p, err := e.action.Plan(ctx, actions.Request{
		Component: actions.Dynamo, Verb: actions.VerbScale, Args: []string{"write=3000"},
	})
	require.NoError(t, err)
	e.fake.Fail("DescribeTable", dynamodbfake.Failure{Status: 500, Code: "InternalServerError", Message: "oops", Times: 1})

	res, err := e.action.Run(ctx, p, nil)
	require.NoError(t, err)
	require.Equal(t, "cato-semantic-memory-production now has read=5000 write=3000 (ACTIVE)", res.Summary)
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := dynamodb.DefaultConfig()
	cfg.Read.Min = 0
	_, err := dynamodb.New(cfg, &ddb.Client{}, dynamodb.Options{})
	require.EqualError(t, err, "dynamodb config: read: min must be at least 1, DynamoDB's lowest, got 0")
}
