package cost

import (
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/computeoptimizer/types"
	"github.com/aws/smithy-go"

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

// apiError turns an error from GetEC2InstanceRecommendations into an *actions.Error with
// actions.AWSError. Msg never holds credentials.
func apiError(err error) error {
	return actions.AWSError(err, actions.AWSCall{
		Service: "Compute Optimizer", Prefix: "computeoptimizer", Op: "GetEC2InstanceRecommendations", Codes: codeError,
		Denied: "the bot's AWS identity may not call " + permission +
			"; add it to the identity's IAM policy",
	})
}

// codeError maps the error codes only Compute Optimizer uses this way,
// or returns nil for a code left to actions.AWSError.
func codeError(ae smithy.APIError, err error) error {
	switch ae.ErrorCode() {
	case "LimitExceededException":
		return actions.Errorf(actions.KindUnavailable, err,
			"Compute Optimizer is throttling the bot's requests; try again in a minute")
	case "InvalidParameterValueException", "ValidationException":
		return actions.Errorf(actions.KindRefused, err, "Compute Optimizer refused the request: %s; "+
			"check cost.findings in the config", plain(ae.ErrorMessage()))
	case "ResourceNotFoundException":
		return actions.Errorf(actions.KindNotFound, err,
			"Compute Optimizer found nothing to report on: %s", plain(ae.ErrorMessage()))
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
