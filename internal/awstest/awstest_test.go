package awstest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/internal/awstest"
)

func TestConfig(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	tests := []struct {
		name string
		opts []awstest.Option
		want int32
	}{
		{name: "one attempt", want: 1},
		{name: "three attempts", opts: []awstest.Option{awstest.Attempts(3)}, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			t.Cleanup(srv.Close)

			cfg := awstest.Config(srv.URL, tt.opts...)
			require.Equal(t, awstest.Region, cfg.Region)
			require.Equal(t, srv.URL, aws.ToString(cfg.BaseEndpoint))
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), nil)
			require.Error(t, err)
			require.Equal(t, tt.want, calls.Load())
		})
	}
}
