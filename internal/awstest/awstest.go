// Package awstest builds AWS SDK configs for tests that drive the real SDK
// against a wire fake on loopback.
package awstest

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Dummy credentials for the fakes; the secret must never show in an error.
const (
	AccessKey = "AKIDCATOBOTTESTONLY0"
	SecretKey = "catobotTestSecretKeyMustNeverLeak0123456"
)

// Region is the region every test config names.
const Region = "us-east-1"

// Option changes a test config.
type Option func(*aws.Config)

// Config returns an SDK config aimed at url, a fake's base URL: region
// Region, the static credentials AccessKey and SecretKey, and one attempt
// per call. Static credentials keep the SDK off the default credential
// chain; tests still set AWS_EC2_METADATA_DISABLED=true.
func Config(url string, opts ...Option) aws.Config {
	cfg := aws.Config{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		BaseEndpoint:     aws.String(url),
		RetryMaxAttempts: 1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// Attempts makes each call try up to n times, with no backoff and no
// retry quota, so a test sees the SDK's retries without waiting.
func Attempts(n int) Option {
	return func(cfg *aws.Config) {
		cfg.RetryMaxAttempts = 0
		cfg.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = n
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
					return 0, nil
				})
			})
		}
	}
}
