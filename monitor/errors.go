package monitor

import (
	"strings"

	"github.com/aws/smithy-go"

	"github.com/thinktank/catobot/actions"
)

// permission is the IAM action Read needs.
const permission = "cloudwatch:GetMetricData"

// apiError turns an error from GetMetricData into an *actions.Error with
// actions.AWSError. Msg never holds credentials.
func apiError(err error) error {
	return actions.AWSError(err, actions.AWSCall{
		Service: "CloudWatch", Prefix: "cloudwatch", Op: "GetMetricData", Codes: codeError,
		Denied: "the bot's AWS identity may not call " + permission +
			"; add it to the identity's IAM policy",
	})
}

// codeError maps the error codes only CloudWatch uses this way, or
// returns nil for a code left to actions.AWSError. CloudWatch is
// query-compatible: the SDK reports the query code ("Throttling",
// "InvalidParameterValue") when CloudWatch sends one, else the shape name
// ("…Exception").
func codeError(ae smithy.APIError, err error) error {
	switch ae.ErrorCode() {
	case "LimitExceeded", "LimitExceededException":
		return actions.Errorf(actions.KindUnavailable, err,
			"CloudWatch is throttling the bot's requests; try again in a minute")
	case "InvalidParameterValue", "InvalidParameterValueException", "InvalidParameterCombination",
		"InvalidParameterCombinationException", "MissingParameter", "MissingRequiredParameterException",
		"ValidationError", "ValidationException", "InvalidNextToken":
		return actions.Errorf(actions.KindRefused, err, "CloudWatch refused the metric query: %s; "+
			"check monitoring.metrics in the config", plain(ae.ErrorMessage()))
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
