package monitor

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/thinktank/catobot/actions"
)

// permission is the IAM action Read needs.
const permission = "cloudwatch:GetMetricData"

// apiError turns an error from GetMetricData into an *actions.Error,
// chosen by the smithy API error code and then the HTTP status. Msg quotes
// CloudWatch's message only where it explains a bad query; it never holds
// credentials.
func apiError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return actions.Errorf(actions.KindUnavailable, err,
			"reading metrics was cancelled before CloudWatch answered")
	}

	var ae smithy.APIError
	if errors.As(err, &ae) {
		if e := codeError(ae, err); e != nil {
			return e
		}
	}

	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch status := re.HTTPStatusCode(); {
		case status == 429 || status >= 500:
			return actions.Errorf(actions.KindUnavailable, err,
				"CloudWatch is not answering properly (HTTP %d); try again in a few minutes", status)
		case status == 403:
			return actions.Errorf(actions.KindRefused, err,
				"AWS denied the bot %s (HTTP 403); add it to the bot identity's IAM policy", permission)
		}
	}

	var ne net.Error
	if errors.As(err, &ne) {
		return actions.Errorf(actions.KindUnavailable, err,
			"could not reach CloudWatch to read metrics; try again later")
	}
	if ae != nil {
		return actions.Errorf(actions.KindInternal, err, "CloudWatch refused to read metrics: %s",
			plain(ae.ErrorMessage()))
	}
	return actions.Errorf(actions.KindInternal, err, "reading metrics from CloudWatch failed unexpectedly")
}

// codeError maps the error codes CloudWatch and AWS use, or returns nil for
// a code left to the HTTP status. CloudWatch is query-compatible: the SDK
// reports the query code ("Throttling", "InvalidParameterValue") when
// CloudWatch sends one, else the shape name ("…Exception").
func codeError(ae smithy.APIError, err error) error {
	switch code := ae.ErrorCode(); code {
	case "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
		"LimitExceeded", "LimitExceededException":
		return actions.Errorf(actions.KindUnavailable, err,
			"CloudWatch is throttling the bot's requests; try again in a minute")
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorized":
		return actions.Errorf(actions.KindRefused, err,
			"the bot's AWS identity may not call %s; add it to the identity's IAM policy", permission)
	case "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
		"SignatureDoesNotMatch", "ExpiredTokenException", "ExpiredToken", "IncompleteSignature",
		"MissingAuthenticationToken":
		return actions.Errorf(actions.KindRefused, err, "AWS did not accept the bot's credentials "+
			"(%s); check the AWS identity the bot runs as", code)
	case "InvalidParameterValue", "InvalidParameterValueException", "InvalidParameterCombination",
		"InvalidParameterCombinationException", "MissingParameter", "MissingRequiredParameterException",
		"ValidationError", "ValidationException", "InvalidNextToken":
		return actions.Errorf(actions.KindRefused, err, "CloudWatch refused the metric query: %s; "+
			"check monitoring.metrics in the config", plain(ae.ErrorMessage()))
	case "InternalServiceFault", "InternalServiceError", "InternalFailure", "ServiceUnavailable",
		"ServiceUnavailableException":
		return actions.Errorf(actions.KindUnavailable, err,
			"CloudWatch is having trouble (%s); try again in a few minutes", code)
	}
	return nil
}

// plain trims a message to one line for a person, without a final period.
func plain(msg string) string {
	msg = strings.TrimRight(strings.Join(strings.Fields(msg), " "), ".")
	if msg == "" {
		return "no reason given"
	}
	return msg
}
