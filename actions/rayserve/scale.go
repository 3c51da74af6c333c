package rayserve

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/thinktank/catobot/actions"
)

func (a *Action) planScale(ctx context.Context, args []string) (actions.Plan, error) {
	if len(args) != 1 {
		return actions.Plan{}, actions.Usagef("scale %s takes one number of replicas, such as 100, +5 or -5",
			actions.Ray)
	}
	sc, err := a.deployments().GetScale(ctx, a.cfg.Deployment, metav1.GetOptions{})
	if err != nil {
		return actions.Plan{}, a.apiErr(err, "get", "deployments/scale", a.cfg.Deployment)
	}
	current := int64(sc.Spec.Replicas)
	n, err := actions.ParseCount(args[0], current, a.cfg.Limits.Min, a.cfg.Limits.Max, "replicas")
	if err != nil {
		return actions.Plan{}, err
	}
	if n == current {
		return actions.Plan{}, actions.Usagef("%s already has %d replicas; nothing to change", Title, current)
	}

	p := actions.Plan{
		Component: actions.Ray,
		Verb:      actions.VerbScale,
		Target:    a.cfg.target(),
		Summary:   fmt.Sprintf("%s: %d → %d replicas", Title, current, n),
		Changes:   []actions.Change{{Field: "replicas", From: itoa(current), To: itoa(n)}},
		Params:    map[string]string{ParamReplicas: itoa(n)},
	}
	h, err := a.getHPA(ctx)
	if err != nil {
		a.log.Warn("read hpa failed", "hpa", a.cfg.HPA, "err", err)
		p.Warnings = append(p.Warnings, fmt.Sprintf(
			"the bot could not read the HPA %s (%s), so it cannot tell whether the HPA will undo this",
			a.cfg.HPA, actions.Explain(err)))
		return p, nil
	}
	if h == nil {
		return p, nil
	}
	lo, hi := int64(hpaMin(h)), int64(h.Spec.MaxReplicas)
	switch {
	case n > hi:
		p.Warnings = append(p.Warnings, fmt.Sprintf(
			"the HPA %s allows at most %d replicas and will scale back to %d; confirming also raises its max to %d",
			a.cfg.HPA, hi, hi, n))
		p.Params[ParamHPAMax] = itoa(n)
		p.Extra = append(p.Extra, a.hpaPlan(h, lo, n))
	case n < lo:
		// The bot runs extra plans first, so the min is lowered before
		// the scale-down.
		p.Warnings = append(p.Warnings, fmt.Sprintf(
			"the HPA %s keeps at least %d replicas and would scale back up to %d; confirming also lowers its min to %d",
			a.cfg.HPA, lo, lo, n))
		p.Extra = append(p.Extra, a.hpaPlan(h, n, hi))
	}
	return p, nil
}

func (a *Action) runScale(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	n, err := strconv.ParseInt(p.Params[ParamReplicas], 10, 32)
	if err != nil || n < a.cfg.Limits.Min || n > a.cfg.Limits.Max {
		return actions.Result{}, actions.Usagef("this step's replica count %q is not within %d–%d",
			p.Params[ParamReplicas], a.cfg.Limits.Min, a.cfg.Limits.Max)
	}
	hpaMax, raise := p.Params[ParamHPAMax]
	if a.dryRun {
		s := fmt.Sprintf("dry run: would call UpdateScale on deployments/scale %s with spec.replicas=%d",
			a.cfg.target(), n)
		if raise {
			s = fmt.Sprintf("dry run: would call Patch (merge) on horizontalpodautoscalers %s with "+
				`{"spec":{"maxReplicas":%s}} when its max is lower, then UpdateScale on deployments/scale %s `+
				"with spec.replicas=%d", a.cfg.hpaTarget(), hpaMax, a.cfg.target(), n)
		}
		return actions.Result{Summary: s, DryRun: true}, nil
	}

	// The HPA's max goes up first, or the HPA would scale the new replicas away again.
	if raise {
		if err := a.raiseHPAMax(ctx, hpaMax); err != nil {
			return actions.Result{}, err
		}
	}
	err = onConflict(func() error {
		sc, err := a.deployments().GetScale(ctx, a.cfg.Deployment, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sc.Spec.Replicas = int32(n)
		_, err = a.deployments().UpdateScale(ctx, a.cfg.Deployment, sc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return actions.Result{}, a.apiErr(err, "update", "deployments/scale", a.cfg.Deployment)
	}
	a.log.Info("scaled deployment", "replicas", n)
	return a.follow(ctx, p, progress)
}

// raiseHPAMax sets the HPA's max to max unless it is that high already.
func (a *Action) raiseHPAMax(ctx context.Context, max string) error {
	n, err := strconv.ParseInt(max, 10, 32)
	if err != nil {
		return actions.Usagef("this step's HPA max %q is not a whole number", max)
	}
	h, err := a.hpas().Get(ctx, a.cfg.HPA, metav1.GetOptions{})
	if err != nil {
		return a.apiErr(err, "get", "horizontalpodautoscalers", a.cfg.HPA)
	}
	if int64(h.Spec.MaxReplicas) >= n {
		return nil
	}
	_, err = a.patchHPA(ctx, map[string]int64{"maxReplicas": n})
	return err
}

// hpaArgs are the parsed words of "hpa ray max=N min=N".
type hpaArgs struct {
	min, max int64
	hasMin   bool
	hasMax   bool
}

func (a *Action) parseHPAArgs(args []string) (hpaArgs, error) {
	usage := actions.Usagef("hpa %s takes max=N and/or min=N, such as max=200 or max=200 min=10", actions.Ray)
	var h hpaArgs
	if len(args) == 0 {
		return h, usage
	}
	for _, arg := range args {
		k, v, ok := strings.Cut(strings.TrimSpace(arg), "=")
		if !ok {
			return h, usage
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return h, actions.Usagef("%s=%q is not a whole number of replicas", k, v)
		}
		if n < max(a.cfg.Limits.Min, 1) || n > a.cfg.Limits.Max {
			return h, actions.Usagef("%s=%d is outside the allowed %d–%d replicas", k, n,
				max(a.cfg.Limits.Min, 1), a.cfg.Limits.Max)
		}
		switch {
		case k == "max" && !h.hasMax:
			h.max, h.hasMax = n, true
		case k == "min" && !h.hasMin:
			h.min, h.hasMin = n, true
		case k == "max" || k == "min":
			return h, actions.Usagef("%s is given twice", k)
		default:
			return h, usage
		}
	}
	return h, nil
}

func (a *Action) planHPA(ctx context.Context, args []string) (actions.Plan, error) {
	if a.cfg.HPA == "" {
		return actions.Plan{}, actions.Usagef("no HPA is configured for %s", Title)
	}
	in, err := a.parseHPAArgs(args)
	if err != nil {
		return actions.Plan{}, err
	}
	h, err := a.hpas().Get(ctx, a.cfg.HPA, metav1.GetOptions{})
	if err != nil {
		return actions.Plan{}, a.apiErr(err, "get", "horizontalpodautoscalers", a.cfg.HPA)
	}
	lo, hi := int64(hpaMin(h)), int64(h.Spec.MaxReplicas)
	if in.hasMin {
		lo = in.min
	}
	if in.hasMax {
		hi = in.max
	}
	if lo > hi {
		return actions.Plan{}, actions.Usagef("min (%d) must not be above max (%d)", lo, hi)
	}
	if lo == int64(hpaMin(h)) && hi == int64(h.Spec.MaxReplicas) {
		return actions.Plan{}, actions.Usagef("the HPA %s already allows %d–%d replicas; nothing to change",
			a.cfg.HPA, lo, hi)
	}
	p := a.hpaPlan(h, lo, hi)
	if cur := int64(h.Status.CurrentReplicas); cur > 0 {
		switch {
		case cur > hi:
			p.Warnings = append(p.Warnings, fmt.Sprintf("the HPA will scale %s down from %d to %d replicas",
				Title, cur, hi))
		case cur < lo:
			p.Warnings = append(p.Warnings, fmt.Sprintf("the HPA will scale %s up from %d to %d replicas",
				Title, cur, lo))
		}
	}
	return p, nil
}

// hpaPlan is the step that sets the HPA's bounds to lo–hi.
func (a *Action) hpaPlan(h *autoscalingv2.HorizontalPodAutoscaler, lo, hi int64) actions.Plan {
	p := actions.Plan{
		Component: actions.Ray,
		Verb:      actions.VerbHPA,
		Target:    a.cfg.hpaTarget(),
		Params:    map[string]string{},
	}
	var words []string
	if curMax := int64(h.Spec.MaxReplicas); hi != curMax {
		p.Changes = append(p.Changes, actions.Change{Field: "hpa_max", From: itoa(curMax), To: itoa(hi)})
		p.Params[ParamHPAMax] = itoa(hi)
		words = append(words, fmt.Sprintf("max %d → %d", curMax, hi))
	}
	if curMin := int64(hpaMin(h)); lo != curMin {
		p.Changes = append(p.Changes, actions.Change{Field: "hpa_min", From: itoa(curMin), To: itoa(lo)})
		p.Params[ParamHPAMin] = itoa(lo)
		words = append(words, fmt.Sprintf("min %d → %d", curMin, lo))
	}
	p.Summary = fmt.Sprintf("%s HPA %s: %s", Title, a.cfg.HPA, strings.Join(words, ", "))
	return p
}

func (a *Action) runHPA(ctx context.Context, p actions.Plan) (actions.Result, error) {
	spec := map[string]int64{}
	for param, field := range map[string]string{ParamHPAMax: "maxReplicas", ParamHPAMin: "minReplicas"} {
		v, ok := p.Params[param]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 || n > a.cfg.Limits.Max {
			return actions.Result{}, actions.Usagef("this step's %s %q is not within 1–%d", param, v,
				a.cfg.Limits.Max)
		}
		spec[field] = n
	}
	if len(spec) == 0 {
		return actions.Result{}, actions.Usagef("this HPA step changes nothing")
	}
	if a.dryRun {
		body, _ := hpaPatch(spec)
		return actions.Result{DryRun: true, Summary: fmt.Sprintf(
			"dry run: would call Patch (merge) on horizontalpodautoscalers %s with %s", a.cfg.hpaTarget(), body)}, nil
	}
	h, err := a.patchHPA(ctx, spec)
	if err != nil {
		return actions.Result{}, err
	}
	return hpaResult(a.cfg.HPA, h), nil
}

// patchHPA sends a JSON merge patch of the HPA's spec fields, as
// `kubectl patch hpa NAME --type merge` does.
func (a *Action) patchHPA(
	ctx context.Context,
	spec map[string]int64,
) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	body, err := hpaPatch(spec)
	if err != nil {
		return nil, actions.Errorf(actions.KindInternal, err, "the bot could not build the HPA patch")
	}
	var h *autoscalingv2.HorizontalPodAutoscaler
	err = onConflict(func() error {
		var err error
		h, err = a.hpas().Patch(ctx, a.cfg.HPA, types.MergePatchType, body, metav1.PatchOptions{})
		return err
	})
	if err != nil {
		return nil, a.apiErr(err, "patch", "horizontalpodautoscalers", a.cfg.HPA)
	}
	a.log.Info("patched hpa", "hpa", a.cfg.HPA, "patch", string(body))
	return h, nil
}

// hpaPatch renders {"spec":{...}} with the fields in a stable order.
func hpaPatch(spec map[string]int64) ([]byte, error) {
	keys := make([]string, 0, len(spec))
	for k := range spec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(`{"spec":{`)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, fmt.Errorf("encode hpa patch: %w", err)
		}
		fmt.Fprintf(&b, "%s:%d", kb, spec[k])
	}
	b.WriteString("}}")
	return []byte(b.String()), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
