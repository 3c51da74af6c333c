package sagemaker

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/thinktank/catobot/actions"
)

// permissionRe finds the IAM action in an access-denied message such as
// "User: arn:… is not authorized to perform: sagemaker:DescribeEndpoint on
// resource: …".
var permissionRe = regexp.MustCompile(`perform: ([A-Za-z0-9-]+:[A-Za-z0-9*]+)`)

// apiError turns an error from SageMaker operation op into an
// *actions.Error with actions.AWSError. Msg quotes SageMaker's message
// only where it explains a refusal (quotas, validation); it never holds
// credentials.
func (a *Action) apiError(op string, err error) error {
	denied := fmt.Sprintf("the bot's AWS identity may not call sagemaker:%s on %s", op, a.cfg.Endpoint)
	return actions.AWSError(err, actions.AWSCall{
		Service: "SageMaker", Prefix: "sagemaker", Op: op, Target: a.cfg.Endpoint, Denied: denied,
		Codes: func(ae smithy.APIError, wrapped error) error {
			return a.codeError(op, ae, wrapped, denied)
		},
	})
}

// codeError maps SageMaker's own error codes, or returns nil for a code
// left to actions.AWSError.
func (a *Action) codeError(op string, ae smithy.APIError, err error, denied string) error {
	msg := ae.ErrorMessage()
	switch ae.ErrorCode() {
	case "ValidationException":
		switch {
		case strings.Contains(msg, "in-progress") || strings.Contains(msg, "in progress"):
			return actions.Errorf(actions.KindBusy, err, "%s is being updated already; wait for it to finish",
				a.cfg.Endpoint)
		case strings.Contains(msg, "Could not find endpoint"):
			return actions.Errorf(actions.KindNotFound, err,
				"SageMaker has no endpoint named %s in this account and region", a.cfg.Endpoint)
		case strings.Contains(msg, "variant") && strings.Contains(msg, "not present"):
			return actions.Errorf(actions.KindNotFound, err, "SageMaker endpoint %s has no variant %q",
				a.cfg.Endpoint, a.cfg.Variant)
		}
		return actions.Errorf(actions.KindRefused, err, "SageMaker refused %s on %s: %s", op, a.cfg.Endpoint,
			plain(msg))
	case "ResourceLimitExceeded", "ServiceQuotaExceededException", "LimitExceededException":
		return actions.Errorf(actions.KindRefused, err, "SageMaker refused the change because an account "+
			"quota is too low: %s", plain(msg))
	case "ResourceNotFound", "ResourceNotFoundException":
		return actions.Errorf(actions.KindNotFound, err,
			"SageMaker has no endpoint named %s in this account and region", a.cfg.Endpoint)
	case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "NotAuthorized":
		if m := permissionRe.FindStringSubmatch(msg); m != nil {
			return actions.Errorf(actions.KindRefused, err, "the bot's AWS identity may not call %s; add it "+
				"to the identity's IAM policy for %s", m[1], a.cfg.Endpoint)
		}
		return actions.Errorf(actions.KindRefused, err, "%s", denied)
	}
	return nil
}

// plain trims SageMaker's message to one sentence-like line for a person.
func plain(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if msg == "" {
		return "no reason given"
	}
	return msg
}
