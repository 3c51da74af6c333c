package cost

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/computeoptimizer/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/thinktank/catobot/actions"
)

// permission is the IAM action Report needs.
const permission = "compute-optimizer:GetEC2InstanceRecommendations"

// optIn reports whether err says the account is not opted in.
func optIn(err error) bool {
	var oe *types.OptInRequiredException
	if errors.As(err, &oe) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "OptInRequiredException"
}

// apiError turns an error from GetEC2InstanceRecommendations into an
// *actions.Error, chosen by the smithy API error code and then the HTTP
// status. Msg never holds credentials.
func apiError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return actions.Errorf(actions.KindUnavailable, err,
			"reading cost recommendations was cancelled before Compute Optimizer answered")
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
				"Compute Optimizer is not answering properly (HTTP %d); try again in a few minutes", status)
		case status == 403:
			return actions.Errorf(actions.KindRefused, err,
				"AWS denied the bot %s (HTTP 403); add it to the bot identity's IAM policy", permission)
		}
	}

	var ne net.Error
	if errors.As(err, &ne) {
		return actions.Errorf(actions.KindUnavailable, err,
			"could not reach Compute Optimizer; try again later")
	}
	if ae != nil {
		return actions.Errorf(actions.KindInternal, err, "Compute Optimizer refused the request: %s",
			plain(ae.ErrorMessage()))
	}
	return actions.Errorf(actions.KindInternal, err,
		"reading cost recommendations from Compute Optimizer failed unexpectedly")
}

// codeError maps Compute Optimizer's error codes, or returns nil for a
// code left to the HTTP status.
func codeError(ae smithy.APIError, err error) error {
	switch code := ae.ErrorCode(); code {
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "LimitExceededException":
		return actions.Errorf(actions.KindUnavailable, err,
			"Compute Optimizer is throttling the bot's requests; try again in a minute")
	case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation":
		return actions.Errorf(actions.KindRefused, err,
			"the bot's AWS identity may not call %s; add it to the identity's IAM policy", permission)
	case "MissingAuthenticationToken", "UnrecognizedClientException", "InvalidClientTokenId",
		"InvalidSignatureException", "SignatureDoesNotMatch", "ExpiredTokenException",
		"IncompleteSignature":
		return actions.Errorf(actions.KindRefused, err, "AWS did not accept the bot's credentials "+
			"(%s); check the AWS identity the bot runs as", code)
	case "InvalidParameterValueException", "ValidationException":
		return actions.Errorf(actions.KindRefused, err, "Compute Optimizer refused the request: %s; "+
			"check cost.findings in the config", plain(ae.ErrorMessage()))
	case "ResourceNotFoundException":
		return actions.Errorf(actions.KindNotFound, err,
			"Compute Optimizer found nothing to report on: %s", plain(ae.ErrorMessage()))
	case "InternalServerException", "ServiceUnavailableException", "InternalFailure":
		return actions.Errorf(actions.KindUnavailable, err,
			"Compute Optimizer is having trouble (%s); try again in a few minutes", code)
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
