package sagemakerfake_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/fakes/sagemakerfake"
	"github.com/thinktank/catobot/internal/awstest"
)

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

func client(url string) *sm.Client {
	return sm.NewFromConfig(awstest.Config(url))
}

func update(ctx context.Context, c *sm.Client, name, variant string, n int32) error {
	_, err := c.UpdateEndpointWeightsAndCapacities(ctx, &sm.UpdateEndpointWeightsAndCapacitiesInput{
		EndpointName: aws.String(name),
		DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{
			{VariantName: aws.String(variant), DesiredInstanceCount: aws.Int32(n)},
		},
	})
	return err
}

func describe(ctx context.Context, t *testing.T, c *sm.Client, name string) (string, int32, int32) {
	t.Helper()
	out, err := c.DescribeEndpoint(ctx, &sm.DescribeEndpointInput{EndpointName: aws.String(name)})
	require.NoError(t, err)
	v := out.ProductionVariants[0]
	return string(out.EndpointStatus), aws.ToInt32(v.CurrentInstanceCount), aws.ToInt32(v.DesiredInstanceCount)
}

func apiError(t *testing.T, err error) (string, string) {
	t.Helper()
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	return ae.ErrorCode(), ae.ErrorMessage()
}

func TestUpdateSteps(t *testing.T) {
	f := sagemakerfake.New()
	defer f.Close()
	f.SetEndpoint("cato-shadow-self", "primary", 5)
	c := client(f.URL())
	ctx := context.Background()

	require.NoError(t, update(ctx, c, "cato-shadow-self", "primary", 15))

	type state struct {
		Status           string
		Current, Desired int32
	}
	var got []state
	for range 3 {
		s, cur, des := describe(ctx, t, c, "cato-shadow-self")
		got = append(got, state{s, cur, des})
	}
	want := []state{{"Updating", 8, 15}, {"Updating", 11, 15}, {"InService", 15, 15}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("states mismatch (-got +want):\n%s", diff)
	}
	require.Equal(t, []string{"UpdateEndpointWeightsAndCapacities", "DescribeEndpoint", "DescribeEndpoint",
		"DescribeEndpoint"}, f.Ops())
	require.Equal(t, "sagemaker", f.Calls()[0].Service)
}

func TestManualSteps(t *testing.T) {
	f := sagemakerfake.New()
	defer f.Close()
	f.SetSteps(0)
	f.SetEndpoint("cato-nli", "primary", 4)
	require.NoError(t, f.StartUpdate("cato-nli", "primary", 8))
	c := client(f.URL())
	ctx := context.Background()

	s, cur, _ := describe(ctx, t, c, "cato-nli")
	require.Equal(t, "Updating", s)
	require.Equal(t, int32(4), cur)

	f.Advance("cato-nli")
	s, cur, _ = describe(ctx, t, c, "cato-nli")
	require.Equal(t, "Updating", s)
	require.Equal(t, int32(5), cur)

	f.Finish("cato-nli")
	s, cur, _ = describe(ctx, t, c, "cato-nli")
	require.Equal(t, "InService", s)
	require.Equal(t, int32(8), cur)

	n, ok := f.Instances("cato-nli", "")
	require.True(t, ok)
	require.Equal(t, int32(8), n)
	_, ok = f.Instances("cato-nli", "canary")
	require.False(t, ok)
}

func TestErrors(t *testing.T) {
	f := sagemakerfake.New()
	defer f.Close()
	f.SetEndpoint("cato-shadow-self", "primary", 5)
	c := client(f.URL())
	ctx := context.Background()

	_, err := c.DescribeEndpoint(ctx, &sm.DescribeEndpointInput{EndpointName: aws.String("nope")})
	code, msg := apiError(t, err)
	require.Equal(t, "ValidationException", code)
	require.Equal(t, `Could not find endpoint "arn:aws:sagemaker:us-east-1:111122223333:endpoint/nope".`, msg)

	code, msg = apiError(t, update(ctx, c, "cato-shadow-self", "canary", 3))
	require.Equal(t, "ValidationException", code)
	require.Contains(t, msg, "[canary]")

	require.NoError(t, update(ctx, c, "cato-shadow-self", "primary", 15))
	code, msg = apiError(t, update(ctx, c, "cato-shadow-self", "primary", 20))
	require.Equal(t, "ValidationException", code)
	require.Equal(t, `Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:111122223333:endpoint/cato-shadow-self".`, msg)
	require.Error(t, f.StartUpdate("cato-shadow-self", "primary", 20))

	f.Fail("DescribeEndpoint", sagemakerfake.Fault{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"})
	_, err = c.DescribeEndpoint(ctx, &sm.DescribeEndpointInput{EndpointName: aws.String("cato-shadow-self")})
	code, _ = apiError(t, err)
	require.Equal(t, "ThrottlingException", code)
	describe(ctx, t, c, "cato-shadow-self") // the fault is used up
}

func TestFailNextUpdate(t *testing.T) {
	f := sagemakerfake.New()
	defer f.Close()
	f.SetSteps(1)
	f.SetEndpoint("cato-shadow-self", "primary", 5)
	f.FailNextUpdate("cato-shadow-self", "Unable to provision requested ML compute capacity.")
	c := client(f.URL())
	ctx := context.Background()

	require.NoError(t, update(ctx, c, "cato-shadow-self", "primary", 15))
	s, cur, des := describe(ctx, t, c, "cato-shadow-self")

	require.Equal(t, "InService", s)
	require.Equal(t, int32(5), cur)
	require.Equal(t, int32(5), des)
	ep, _ := f.Endpoint("cato-shadow-self")
	require.Equal(t, "Unable to provision requested ML compute capacity.", ep.FailureReason)
}

func TestConcurrentUse(t *testing.T) {
	f := sagemakerfake.New()
	defer f.Close()
	c := client(f.URL())
	ctx := context.Background()
	f.SetEndpoint("cato-shadow-self", "primary", 5)

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			f.SetEndpoint("cato-shadow-self", "primary", int32(5+i))
			_, _ = f.Endpoint("cato-shadow-self")
			_, _ = c.DescribeEndpoint(ctx, &sm.DescribeEndpointInput{EndpointName: aws.String("cato-shadow-self")})
		})
	}
	wg.Wait()
	require.Equal(t, []string{"cato-shadow-self"}, f.Endpoints())
	require.Equal(t, 8, f.Count("DescribeEndpoint"))
}
