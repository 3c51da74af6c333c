package stsfake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/fakes/stsfake"
)

func client(url string) *sts.Client {
	return sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIATEST0000000000", SecretAccessKey: "test-secret"}, nil
		}),
	})
}

func TestGetCallerIdentity(t *testing.T) {
	fake := stsfake.New(stsfake.Cato())
	defer fake.Close()
	ctx := context.Background()

	out, err := client(fake.URL()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	require.Equal(t, stsfake.Cato().Arn, aws.ToString(out.Arn))
	require.Equal(t, "111122223333", aws.ToString(out.Account))
	require.Equal(t, stsfake.Cato().UserID, aws.ToString(out.UserId))

	fake.Fail(stsfake.Fault{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."})
	_, err = client(fake.URL()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	require.Equal(t, "InvalidClientTokenId", ae.ErrorCode())

	_, err = client(fake.URL()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err, "the fault was for one call")
	require.Equal(t, 3, fake.Count(stsfake.OpGetCallerIdentity))
	require.Equal(t, "sts", fake.Calls()[0].Service)
}

func TestUnsignedRequestIsRefused(t *testing.T) {
	fake := stsfake.New(stsfake.Cato())
	defer fake.Close()
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(fake.URL()),
		Credentials: aws.AnonymousCredentials{}})
	_, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	require.Equal(t, "MissingAuthenticationToken", ae.ErrorCode())
}
