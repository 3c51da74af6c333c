package cloudwatchfake_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/fakes/cloudwatchfake"
	"github.com/thinktank/catobot/internal/awstest"
)

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

func client(t *testing.T, f *cloudwatchfake.Fake) *cloudwatch.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return cloudwatch.NewFromConfig(awstest.Config(srv.URL))
}

func query(id string) types.MetricDataQuery {
	return types.MetricDataQuery{
		Id: aws.String(id),
		MetricStat: &types.MetricStat{
			Metric: &types.Metric{Namespace: aws.String("Cato/Cost"), MetricName: aws.String("BudgetBurnRate")},
			Period: aws.Int32(60),
			Stat:   aws.String("Maximum"),
		},
	}
}

func TestGetMetricDataSeriesAscending(t *testing.T) {
	f := cloudwatchfake.New()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.SetSeries("Cato/Cost", "BudgetBurnRate", nil,
		cloudwatchfake.Point{Time: start.Add(2 * time.Minute), Value: 2},
		cloudwatchfake.Point{Time: start.Add(time.Minute), Value: 1},
	)

	out, err := client(t, f).GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(start), EndTime: aws.Time(start.Add(10 * time.Minute)),
		ScanBy:            types.ScanByTimestampAscending,
		MetricDataQueries: []types.MetricDataQuery{query("a")},
	})
	require.NoError(t, err)
	require.Len(t, out.MetricDataResults, 1)
	got := out.MetricDataResults[0]
	require.Equal(t, types.StatusCodeComplete, got.StatusCode)
	require.Equal(t, []float64{1, 2}, got.Values)
	require.Equal(t, start.Add(time.Minute), got.Timestamps[0].UTC())
}

func TestGetMetricDataRejectsDuplicateIDs(t *testing.T) {
	f := cloudwatchfake.New()
	now := time.Now()

	_, err := client(t, f).GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now),
		MetricDataQueries: []types.MetricDataQuery{query("a"), query("a")},
	})
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	require.Equal(t, "InvalidParameterValue", ae.ErrorCode())
	require.Equal(t, 1, f.Recorder.Count(cloudwatchfake.OpGetMetricData))
}
