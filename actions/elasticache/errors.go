package elasticache

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/thinktank/catobot/actions"
)

// explain turns an ElastiCache API error from op on group into an
// *actions.Error whose message a person can act on. It matches on the
// smithy error code first, then on the HTTP status.
func explain(err error, op, group string) error {
	if err == nil {
		return nil
	}
	var ae *actions.Error
	if errors.As(err, &ae) {
		return err
	}
	wrapped := fmt.Errorf("elasticache %s %s: %w", op, group, err)

	var api smithy.APIError
	if errors.As(err, &api) {
		reason := api.ErrorMessage()
		switch api.ErrorCode() {
		case "InvalidReplicationGroupState":
			return actions.Errorf(actions.KindBusy, wrapped,
				"%s is not in a state that allows this change (%s); "+
					"wait until it is available and try again", group, reason)
		case "InvalidParameterValue", "InvalidParameterCombination":
			return actions.Errorf(actions.KindUsage, wrapped,
				"ElastiCache refused the request: %s", reason)
		case "InsufficientCacheClusterCapacity":
			return actions.Errorf(actions.KindRefused, wrapped,
				"AWS has no capacity for that node type in this region right now (%s); "+
					"try another node type or later", reason)
		case "NodeQuotaForCustomerExceeded", "NodeQuotaForClusterExceeded":
			return actions.Errorf(actions.KindRefused, wrapped,
				"the change would exceed the account's ElastiCache node quota (%s); "+
					"ask for a quota increase first", reason)
		case "ReplicationGroupNotFoundFault":
			return actions.Errorf(actions.KindNotFound, wrapped,
				"replication group %s does not exist", group)
		case "NoOperationFault":
			return actions.Errorf(actions.KindUsage, wrapped,
				"nothing to change on %s: %s", group, reason)
		case "Throttling", "ThrottlingException", "RequestLimitExceeded",
			"APICallRateForCustomerExceeded":
			return actions.Errorf(actions.KindUnavailable, wrapped,
				"ElastiCache is throttling requests; try again in a minute")
		case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
			return actions.Errorf(actions.KindRefused, wrapped,
				"the bot is not allowed to call %s on %s", op, group)
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code == http.StatusTooManyRequests || code >= 500:
			return actions.Errorf(actions.KindUnavailable, wrapped,
				"ElastiCache answered %d to %s; try again later", code, op)
		case code == http.StatusForbidden:
			return actions.Errorf(actions.KindRefused, wrapped,
				"the bot is not allowed to call %s on %s", op, group)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return actions.Errorf(actions.KindUnavailable, wrapped,
			"%s on %s did not finish in time", op, group)
	}
	if api != nil {
		return actions.Errorf(actions.KindInternal, wrapped,
			"ElastiCache %s failed: %s", op, api.ErrorMessage())
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return actions.Errorf(actions.KindUnavailable, wrapped,
			"could not reach ElastiCache for %s", op)
	}
	return actions.Errorf(actions.KindInternal, wrapped, "ElastiCache %s failed unexpectedly", op)
}
