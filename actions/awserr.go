package actions

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	// Denied is the message for denied access (by error code or HTTP
	// 403); by default it says the bot may not call Op on Target.
	Denied string
	// Codes maps the service's own error codes before AWSError's common
	// ones; it returns nil to leave a code to AWSError. wrapped is the
	// error to carry in the *Error it returns.
	Codes func(api smithy.APIError, wrapped error) error
}

// Error codes that mean the same in every AWS service. The JSON protocols
// send "…Exception" names; query and query-compatible services send the
// short ones.
var (
	throttleCodes = codes("Throttling", "ThrottlingException", "ThrottledException",
		"RequestLimitExceeded", "TooManyRequestsException", "APICallRateForCustomerExceeded",
		"ProvisionedThroughputExceededException")
	deniedCodes = codes("AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
		"NotAuthorized")
	credentialCodes = codes("UnrecognizedClientException", "InvalidClientTokenId",
		"InvalidSignatureException", "SignatureDoesNotMatch", "ExpiredTokenException",
		"ExpiredToken", "IncompleteSignature", "MissingAuthenticationToken")
	troubleCodes = codes("InternalFailure", "InternalServerError", "InternalServerException",
		"InternalServiceFault", "InternalServiceError", "ServiceUnavailable",
		"ServiceUnavailableException")
)

func codes(list ...string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, c := range list {
		m[c] = true
	}
	return m
}

// AWSError turns an error from an AWS SDK call into an *Error whose
// message a person can act on, the way every AWS action, the monitor and
// the cost report explain AWS failures. It tries c.Codes first, then the
// codes every AWS service uses for throttling, denied access, rejected
// credentials and trouble inside the service, then the HTTP status (429
// and 5xx are KindUnavailable, 403 KindRefused), a deadline or
// cancellation, and a request that never reached AWS. An *Error passes
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
	denied := c.Denied
	if denied == "" {
		denied = "the bot is not allowed to call " + c.Op + on
	}

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
				"%s is throttling the bot's requests; try again in a minute", c.Service)
		case deniedCodes[code]:
			return Errorf(KindRefused, wrapped, "%s", denied)
		case credentialCodes[code]:
			return Errorf(KindRefused, wrapped, "AWS did not accept the bot's credentials (%s); "+
				"check the AWS identity the bot runs as", code)
		case troubleCodes[code]:
			return Errorf(KindUnavailable, wrapped,
				"%s is having trouble (%s); try again in a few minutes", c.Service, code)
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code == http.StatusTooManyRequests || code >= 500:
			return Errorf(KindUnavailable, wrapped,
				"%s is not answering properly (HTTP %d); try again in a few minutes", c.Service, code)
		case code == http.StatusForbidden:
			return Errorf(KindRefused, wrapped, "%s", denied)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Errorf(KindUnavailable, wrapped, "%s%s did not finish in time", c.Op, on)
	}
	if api != nil {
		return Errorf(KindInternal, wrapped, "%s %s failed: %s", c.Service, c.Op, api.ErrorMessage())
	}
	var send *smithyhttp.RequestSendError
	var ne net.Error
	if errors.As(err, &send) || errors.As(err, &ne) {
		return Errorf(KindUnavailable, wrapped,
			"could not reach %s for %s; try again later", c.Service, c.Op)
	}
	return Errorf(KindInternal, wrapped, "%s %s failed unexpectedly", c.Service, c.Op)
}
