package rayserve

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/thinktank/catobot/actions"
)

// annotationsToSkip are the Deployment annotations a rollback keeps from the Deployment
// instead of taking them from the old ReplicaSet, as `kubectl rollout undo` does.
var annotationsToSkip = map[string]bool{
	corev1.LastAppliedConfigAnnotation:          true,
	RevisionAnnotation:                          true,
	"deployment.kubernetes.io/revision-history": true,
	"deployment.kubernetes.io/desired-replicas": true,
	"deployment.kubernetes.io/max-replicas":     true,
	"deprecated.deployment.rollback.to":         true,
}

// history is a Deployment's newest and previous revisions, from its ReplicaSets.
type history struct {
	latest, previous       *appsv1.ReplicaSet
	latestRev, previousRev int64
}

// revisions finds the newest and the previous revision among the ReplicaSets the
// Deployment controls, as kubectl does for `rollout undo` without --to-revision.
func (a *Action) revisions(ctx context.Context, d *appsv1.Deployment) (history, error) {
	h := history{latestRev: -1, previousRev: -1}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return h, actions.Errorf(actions.KindInternal, err, "deployment %s has a selector the bot cannot read",
			a.cfg.target())
	}
	list, err := a.client.AppsV1().ReplicaSets(a.cfg.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: sel.String(),
	})
	if err != nil {
		return h, a.apiErr(err, "list", "replicasets", "")
	}
	for i := range list.Items {
		rs := &list.Items[i]
		if !metav1.IsControlledBy(rs, d) {
			continue
		}
		v, err := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
		if err != nil {
			continue
		}
		switch {
		case v > h.latestRev:
			h.previous, h.previousRev = h.latest, h.latestRev
			h.latest, h.latestRev = rs, v
		case v > h.previousRev:
			h.previous, h.previousRev = rs, v
		}
	}
	return h, nil
}

// refusePaused explains that a paused Deployment cannot be rolled back.
func (a *Action) refusePaused() error {
	return &actions.Error{Kind: actions.KindRefused, Msg: fmt.Sprintf(
		"deployment %s is paused, and a paused deployment cannot be rolled back; resume it first "+
			"(kubectl rollout resume deployment/%s -n %s) and try again",
		a.cfg.target(), a.cfg.Deployment, a.cfg.Namespace)}
}

func (a *Action) planRollback(ctx context.Context, args []string) (actions.Plan, error) {
	if len(args) > 0 {
		return actions.Plan{}, actions.Usagef("rollback %s takes no arguments; it goes back one revision",
			actions.Ray)
	}
	d, err := a.deployments().Get(ctx, a.cfg.Deployment, metav1.GetOptions{})
	if err != nil {
		return actions.Plan{}, a.apiErr(err, "get", "deployments", a.cfg.Deployment)
	}
	if d.Spec.Paused {
		return actions.Plan{}, a.refusePaused()
	}
	h, err := a.revisions(ctx, d)
	if err != nil {
		return actions.Plan{}, err
	}
	current := d.Annotations[RevisionAnnotation]
	if h.previous == nil {
		if current == "" {
			current = "unknown"
		}
		return actions.Plan{}, &actions.Error{Kind: actions.KindRefused, Msg: fmt.Sprintf(
			"deployment %s has no earlier revision to roll back to (current revision: %s); nothing changes",
			a.cfg.target(), current)}
	}
	if current == "" {
		current = itoa(h.latestRev)
	}
	to := itoa(h.previousRev)
	if equalIgnoreHash(&h.previous.Spec.Template, &d.Spec.Template) {
		return actions.Plan{}, &actions.Error{Kind: actions.KindRefused, Msg: fmt.Sprintf(
			"deployment %s's pod template already matches revision %s; nothing to roll back",
			a.cfg.target(), to)}
	}

	p := actions.Plan{
		Component: actions.Ray,
		Verb:      actions.VerbRollback,
		Target:    a.cfg.target(),
		Summary: fmt.Sprintf("%s: roll %s back from revision %s to revision %s", Title,
			a.cfg.Deployment, current, to),
		Changes: []actions.Change{{Field: "revision", From: current, To: to}},
		Params: map[string]string{
			ParamFromRevision: current,
			ParamToRevision:   to,
			ParamReplicaSet:   h.previous.Name,
		},
	}
	p.Changes = append(p.Changes, imageChanges(&d.Spec.Template, &h.previous.Spec.Template)...)
	if len(p.Changes) == 1 {
		p.Warnings = append(p.Warnings, "the images stay the same; other parts of the pod template change")
	}
	return p, nil
}

// imageChanges lists the container images that differ between two pod templates.
func imageChanges(from, to *corev1.PodTemplateSpec) []actions.Change {
	old := map[string]string{}
	for _, c := range from.Spec.Containers {
		old[c.Name] = c.Image
	}
	var out []actions.Change
	for _, c := range to.Spec.Containers {
		if old[c.Name] == c.Image {
			continue
		}
		field := "image"
		if len(to.Spec.Containers) > 1 {
			field = "image (" + c.Name + ")"
		}
		out = append(out, actions.Change{Field: field, From: old[c.Name], To: c.Image})
	}
	return out
}

// errStop ends a conflict retry with an error that is already an *actions.Error.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

func (a *Action) runRollback(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	from, to, rsName := p.Params[ParamFromRevision], p.Params[ParamToRevision], p.Params[ParamReplicaSet]
	if from == "" || to == "" || rsName == "" {
		return actions.Result{}, actions.Usagef("this rollback step does not say which revision to restore")
	}
	if a.dryRun {
		return actions.Result{DryRun: true, Summary: fmt.Sprintf(
			"dry run: would call Update on deployments %s with the pod template of revision %s "+
				"(ReplicaSet %s), replacing revision %s", a.cfg.target(), to, rsName, from)}, nil
	}

	err := onConflict(func() error {
		d, err := a.deployments().Get(ctx, a.cfg.Deployment, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := a.checkRollback(d, from); err != nil {
			return errStop{err}
		}
		rs, err := a.client.AppsV1().ReplicaSets(a.cfg.Namespace).Get(ctx, rsName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !metav1.IsControlledBy(rs, d) || rs.Annotations[RevisionAnnotation] != to {
			return errStop{&actions.Error{Kind: actions.KindRefused, Msg: fmt.Sprintf(
				"ReplicaSet %s no longer holds revision %s of %s; ask for a fresh preview",
				rsName, to, a.cfg.target())}}
		}
		restore(d, rs)
		_, err = a.deployments().Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
	var stop errStop
	if errors.As(err, &stop) {
		return actions.Result{}, stop.err
	}
	if err != nil {
		return actions.Result{}, a.apiErr(err, "update", "deployments", a.cfg.Deployment)
	}
	a.log.Info("rolled back deployment", "from_revision", from, "to_revision", to, "replicaset", rsName)
	return a.follow(ctx, p, progress)
}

// checkRollback refuses when the Deployment changed since the preview.
func (a *Action) checkRollback(d *appsv1.Deployment, from string) error {
	if d.Spec.Paused {
		return a.refusePaused()
	}
	if cur := d.Annotations[RevisionAnnotation]; cur != from {
		return &actions.Error{Kind: actions.KindBusy, Msg: fmt.Sprintf(
			"deployment %s is at revision %s now, not %s as in the preview; ask for a fresh preview",
			a.cfg.target(), cur, from)}
	}
	return nil
}

// restore puts rs's pod template, without its pod-template-hash label, into d and merges
// the annotations as `kubectl rollout undo` does: the skipped ones from d, the rest from rs.
func restore(d *appsv1.Deployment, rs *appsv1.ReplicaSet) {
	tmpl := rs.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	d.Spec.Template = *tmpl

	ann := map[string]string{}
	for k := range annotationsToSkip {
		if v, ok := d.Annotations[k]; ok {
			ann[k] = v
		}
	}
	for k, v := range rs.Annotations {
		if !annotationsToSkip[k] {
			ann[k] = v
		}
	}
	d.Annotations = ann
}

// equalIgnoreHash compares two pod templates without the pod-template-hash label.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	return equality.Semantic.DeepEqual(a, b)
}
