package actions

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// AWSCall names the AWS call an error came from, for AWSError's words.
type AWSCall struct {
	// Service is the service's name for a person, e.g. "DynamoDB".
	Service string
	// Prefix starts the wrapped error's text, e.g. "dynamodb".
	Prefix string
	// Op is the API operation, e.g. "UpdateTable".
	Op string
	// Target is the object of the call, e.g. a table name; "" for calls
	// about the whole account.
	Target string
	// Codes maps the service's own error codes before AWSError's common
	// ones; it returns nil to leave a code to AWSError. wrapped is the
	// error to carry in the *Error it returns.
	Codes func(api smithy.APIError, wrapped error) error
}

// throttleCodes are the error codes AWS services use for throttling.
var throttleCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "RequestLimitExceeded": true,
	"TooManyRequestsException": true, "APICallRateForCustomerExceeded": true,
}

// deniedCodes are the error codes AWS services use when the caller may not
// make the call.
var deniedCodes = map[string]bool{
	"AccessDenied": true, "AccessDeniedException": true, "UnauthorizedOperation": true,
	"UnrecognizedClientException": true,
}

// AWSError turns an error from an AWS SDK call into an *Error whose
// message a person can act on. It tries c.Codes first, then the codes
// every AWS service uses for throttling and denied access, then the HTTP
// status (429 and 5xx are KindUnavailable, 403 KindRefused), a deadline
// or cancellation, and a request that never reached AWS. An *Error passes
// through unchanged and nil stays nil.
func AWSError(err error, c AWSCall) error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	what, on := c.Op, ""
	if c.Target != "" {
		what, on = c.Op+" "+c.Target, " on "+c.Target
	}
	wrapped := fmt.Errorf("%s %s: %w", c.Prefix, what, err)

	var api smithy.APIError
	if errors.As(err, &api) {
		if c.Codes != nil {
			if e := c.Codes(api, wrapped); e != nil {
				return e
			}
		}
		switch code := api.ErrorCode(); {
		case throttleCodes[code]:
			return Errorf(KindUnavailable, wrapped,
				"%s is throttling requests; try again in a minute", c.Service)
		case deniedCodes[code]:
			return Errorf(KindRefused, wrapped, "the bot is not allowed to call %s%s", c.Op, on)
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code == http.StatusTooManyRequests || code >= 500:
			return Errorf(KindUnavailable, wrapped,
				"%s answered %d to %s; try again later", c.Service, code, c.Op)
		case code == http.StatusForbidden:
			return Errorf(KindRefused, wrapped, "the bot is not allowed to call %s%s", c.Op, on)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Errorf(KindUnavailable, wrapped, "%s%s did not finish in time", c.Op, on)
	}
	if api != nil {
		return Errorf(KindInternal, wrapped, "%s %s failed: %s", c.Service, c.Op, api.ErrorMessage())
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return Errorf(KindUnavailable, wrapped, "could not reach %s for %s", c.Service, c.Op)
	}
	return Errorf(KindInternal, wrapped, "%s %s failed unexpectedly", c.Service, c.Op)
}
