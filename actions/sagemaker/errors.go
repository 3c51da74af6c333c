package sagemaker

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/thinktank/catobot/actions"
)

// permissionRe finds the IAM action in an access-denied message such as
// "User: arn:… is not authorized to perform: sagemaker:DescribeEndpoint on
// resource: …".
var permissionRe = regexp.MustCompile(`perform: ([A-Za-z0-9-]+:[A-Za-z0-9*]+)`)

// apiError turns an error from SageMaker operation op into an
// *actions.Error, chosen by the smithy API error code and then the HTTP
// status. Msg quotes SageMaker's message only where it explains a refusal
// (quotas, validation); it never holds credentials.
func (a *Action) apiError(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return actions.Errorf(actions.KindUnavailable, err,
			"%s on %s was cancelled before SageMaker answered", op, a.cfg.Endpoint)
	}

	var ae smithy.APIError
	if errors.As(err, &ae) {
		if e := a.codeError(op, ae, err); e != nil {
			return e
		}
	}

	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch status := re.HTTPStatusCode(); {
		case status == 429 || status >= 500:
			return actions.Errorf(actions.KindUnavailable, err,
				"SageMaker is not answering properly (HTTP %d); try again in a few minutes", status)
		case status == 403:
			return actions.Errorf(actions.KindRefused, err, "AWS denied the bot %s on %s (HTTP 403)",
				op, a.cfg.Endpoint)
		}
	}

	var ne net.Error
	if errors.As(err, &ne) {
		return actions.Errorf(actions.KindUnavailable, err,
			"could not reach SageMaker for %s; try again later", op)
	}
	if ae != nil {
		return actions.Errorf(actions.KindInternal, err, "SageMaker refused %s on %s: %s",
			op, a.cfg.Endpoint, ae.ErrorMessage())
	}
	return actions.Errorf(actions.KindInternal, err, "%s on %s failed unexpectedly", op, a.cfg.Endpoint)
}

// codeError maps the API error codes SageMaker and AWS use, or returns nil
// for a code left to the HTTP status.
func (a *Action) codeError(op string, ae smithy.APIError, err error) error {
	msg := ae.ErrorMessage()
	switch code := ae.ErrorCode(); code {
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
	case "ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded",
		"TooManyRequestsException", "ProvisionedThroughputExceededException":
		return actions.Errorf(actions.KindUnavailable, err, "SageMaker is throttling the bot's requests; "+
			"try again in a minute")
	case "ServiceUnavailable", "ServiceUnavailableException", "InternalFailure", "InternalServerError",
		"InternalServerException":
		return actions.Errorf(actions.KindUnavailable, err, "SageMaker is having trouble (%s); try again in "+
			"a few minutes", code)
	case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "NotAuthorized":
		if m := permissionRe.FindStringSubmatch(msg); m != nil {
			return actions.Errorf(actions.KindRefused, err, "the bot's AWS identity may not call %s; add it "+
				"to the identity's IAM policy for %s", m[1], a.cfg.Endpoint)
		}
		return actions.Errorf(actions.KindRefused, err, "the bot's AWS identity may not call "+
			"sagemaker:%s on %s", op, a.cfg.Endpoint)
	case "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
		"SignatureDoesNotMatch", "ExpiredTokenException", "ExpiredToken", "IncompleteSignature":
		return actions.Errorf(actions.KindRefused, err, "AWS did not accept the bot's credentials (%s); "+
			"check the AWS identity the bot runs as", code)
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
