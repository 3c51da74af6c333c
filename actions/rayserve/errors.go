package rayserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/thinktank/catobot/actions"
)

// kindWords names each resource the action touches as a person would.
var kindWords = map[string]string{
	"deployments":              "deployment",
	"deployments/scale":        "deployment",
	"horizontalpodautoscalers": "HPA",
	"replicasets":              "ReplicaSets of deployment",
	"pods":                     "pods of deployment",
}

// apiErr turns a client-go error from verb on resource/name into an *actions.Error whose
// message a person can act on. The API server's own message stays in the wrapped cause.
func (a *Action) apiErr(err error, verb, resource, name string) error {
	if name == "" {
		name = a.cfg.Deployment
	}
	obj := a.cfg.Namespace + "/" + name
	what := kindWords[resource]
	if what == "" {
		what = resource
	}
	cause := fmt.Errorf("%s %s %s: %w", verb, resource, obj, err)

	var status apierrors.APIStatus
	code := int32(0)
	if errors.As(err, &status) {
		code = status.Status().Code
	}
	switch {
	case apierrors.IsNotFound(err):
		return actions.Errorf(actions.KindNotFound, cause, "%s %s was not found in the cluster", what, obj)
	case apierrors.IsForbidden(err):
		return actions.Errorf(actions.KindRefused, cause,
			"Kubernetes refused to let the bot %s %s in namespace %s (forbidden); its service account "+
				"needs the %q permission on %s", verb, resource, a.cfg.Namespace, verb, resource)
	case apierrors.IsUnauthorized(err):
		return actions.Errorf(actions.KindRefused, cause,
			"Kubernetes did not accept the bot's credentials (unauthorized) when it tried to %s %s %s",
			verb, what, obj)
	case apierrors.IsConflict(err):
		return actions.Errorf(actions.KindBusy, cause,
			"%s %s kept changing while the bot tried to %s it; try again", what, obj, verb)
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return actions.Errorf(actions.KindRefused, cause, "Kubernetes rejected the change to %s %s: %s",
			what, obj, statusMessage(err))
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err),
		apierrors.IsUnexpectedServerError(err), code >= 500, transient(err):
		return actions.Errorf(actions.KindUnavailable, cause,
			"the Kubernetes API did not answer the bot's request to %s %s %s; try again later", verb, what, obj)
	}
	return actions.Errorf(actions.KindInternal, cause, "the bot could not %s %s %s", verb, what, obj)
}

// transient reports whether err is a network failure or a timeout rather than an answer,
// including client-go's own rate limiter giving up before the context's deadline.
func transient(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(err.Error(), "client rate limiter Wait returned an error")
}

// statusMessage returns the API server's message for err, which names fields, never
// credentials.
func statusMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}
