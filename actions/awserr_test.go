package actions_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
)

func TestAWSError(t *testing.T) {
	status := func(code int) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}},
			Err:      errors.New("no body"),
		}}
	}
	api := func(code string) error {
		return &smithy.GenericAPIError{Code: code, Message: "the reason"}
	}
	call := actions.AWSCall{Service: "DynamoDB", Prefix: "dynamodb", Op: "UpdateTable", Target: "t1",
		Codes: func(api smithy.APIError, wrapped error) error {
			if api.ErrorCode() == "ResourceInUseException" {
				return actions.Errorf(actions.KindBusy, wrapped, "t1 is busy")
			}
			return nil
		}}
	tests := []struct {
		name     string
		err      error
		call     actions.AWSCall
		wantKind actions.Kind
		wantMsg  string
	}{
		{name: "own code", err: api("ResourceInUseException"), call: call,
			wantKind: actions.KindBusy, wantMsg: "t1 is busy"},
		{name: "throttled", err: api("ThrottlingException"), call: call, wantKind: actions.KindUnavailable,
			wantMsg: "DynamoDB is throttling the bot's requests; try again in a minute"},
		{name: "denied", err: api("AccessDeniedException"), call: call, wantKind: actions.KindRefused,
			wantMsg: "the bot is not allowed to call UpdateTable on t1"},
		{name: "denied, own words", err: status(http.StatusForbidden),
			call:     actions.AWSCall{Service: "CloudWatch", Op: "GetMetricData", Denied: "add the permission"},
			wantKind: actions.KindRefused, wantMsg: "add the permission"},
		{name: "credentials", err: api("ExpiredToken"), call: call, wantKind: actions.KindRefused,
			wantMsg: "AWS did not accept the bot's credentials (ExpiredToken); " +
				"check the AWS identity the bot runs as"},
		{name: "trouble", err: api("InternalFailure"), call: call, wantKind: actions.KindUnavailable,
			wantMsg: "DynamoDB is having trouble (InternalFailure); try again in a few minutes"},
		{name: "5xx", err: status(http.StatusBadGateway), call: call, wantKind: actions.KindUnavailable,
			wantMsg: "DynamoDB is not answering properly (HTTP 502); try again in a few minutes"},
		{name: "cancelled", err: context.Canceled, call: call, wantKind: actions.KindUnavailable,
			wantMsg: "UpdateTable on t1 did not finish in time"},
		{name: "other code", err: api("Odd"), call: call, wantKind: actions.KindInternal,
			wantMsg: "DynamoDB UpdateTable failed: the reason"},
		{name: "unreachable", err: &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial",
			Err: errors.New("connection refused")}}, call: call, wantKind: actions.KindUnavailable,
			wantMsg: "could not reach DynamoDB for UpdateTable; try again later"},
		{name: "unexpected", err: errors.New("odd"), call: call, wantKind: actions.KindInternal,
			wantMsg: "DynamoDB UpdateTable failed unexpectedly"},
		{name: "already explained", err: actions.Usagef("bad"), call: call, wantKind: actions.KindUsage,
			wantMsg: "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := actions.AWSError(tt.err, tt.call)
			require.Equal(t, tt.wantKind, actions.KindOf(err))
			require.Equal(t, tt.wantMsg, actions.Explain(err))
			require.ErrorIs(t, err, tt.err)
		})
	}
	require.NoError(t, actions.AWSError(nil, call))
}

func TestParseNamed(t *testing.T) {
	limits := map[string]actions.Limits{"read": {Min: 1, Max: 100}, "write": {Min: 1, Max: 50}}
	usage := "usage: scale x read=N write=N"
	tests := []struct {
		name    string
		args    []string
		want    map[string]int64
		wantErr string
	}{
		{name: "both", args: []string{"READ=10", " write=5"}, want: map[string]int64{"read": 10, "write": 5}},
		{name: "none", wantErr: usage},
		{name: "unknown key", args: []string{"rcu=1"}, wantErr: `"rcu=1" is not read=N or write=N; ` + usage},
		{name: "twice", args: []string{"read=1", "read=2"}, wantErr: "read is given twice; " + usage},
		{name: "plus sign", args: []string{"read=+1"}, wantErr: "read=+1 is not a whole number of units"},
		{name: "below", args: []string{"write=0"}, wantErr: "write=0 is below the lowest allowed, 1"},
		{name: "above", args: []string{"write=51"}, wantErr: "write=51 is above the highest allowed, 50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := actions.ParseNamed(tt.args, limits, "units", usage)
			if tt.wantErr != "" {
				require.Equal(t, actions.KindUsage, actions.KindOf(err))
				require.Equal(t, tt.wantErr, actions.Explain(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
