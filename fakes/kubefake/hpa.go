package kubefake

import (
	"encoding/json"
	"sort"

	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	hpaGR   = schema.GroupResource{Group: "autoscaling", Resource: HPAs}
	leaseGR = schema.GroupResource{Group: "coordination.k8s.io", Resource: Leases}
	hpaTM   = metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"}
	leaseTM = metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"}
)

// SetHPA creates or changes HorizontalPodAutoscaler ns/name with the given bounds. A new
// one targets the Deployment named like it without a "-hpa" suffix. The fake reports the
// HPA's status from that Deployment but never scales it.
func (s *Server) SetHPA(ns, name string, minReplicas, maxReplicas int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hpas[key{ns, name}]
	if h == nil {
		h = &autoscalingv2.HorizontalPodAutoscaler{
			TypeMeta: hpaTM,
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: s.newUID(),
				CreationTimestamp: metav1.NewTime(time.Now().UTC().Truncate(time.Second))},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
					APIVersion: "apps/v1", Kind: "Deployment", Name: strings.TrimSuffix(name, "-hpa"),
				},
			},
		}
		s.hpas[key{ns, name}] = h
	}
	h.Spec.MinReplicas = &minReplicas
	h.Spec.MaxReplicas = maxReplicas
	h.Generation++
	h.ResourceVersion = s.nextRV()
}

// HPA returns a copy of HorizontalPodAutoscaler ns/name as stored.
func (s *Server) HPA(ns, name string) (*autoscalingv2.HorizontalPodAutoscaler, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hpas[key{ns, name}]
	if h == nil {
		return nil, false
	}
	return s.hpaView(h), true
}

// hpaView is a copy of h with its status read from the target Deployment.
func (s *Server) hpaView(h *autoscalingv2.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscaler {
	c := h.DeepCopy()
	ds := s.deps[key{h.Namespace, h.Spec.ScaleTargetRef.Name}]
	if ds == nil {
		return c
	}
	c.Status.ObservedGeneration = &c.Generation
	c.Status.CurrentReplicas = ds.d.Status.Replicas
	want := *ds.d.Spec.Replicas
	if c.Spec.MinReplicas != nil {
		want = max(want, *c.Spec.MinReplicas)
	}
	c.Status.DesiredReplicas = min(want, c.Spec.MaxReplicas)
	return c
}

func validateHPA(h *autoscalingv2.HorizontalPodAutoscaler) *apierrors.StatusError {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	minR := int32(1)
	if h.Spec.MinReplicas != nil {
		minR = *h.Spec.MinReplicas
	}
	if minR < 1 {
		errs = append(errs, field.Invalid(spec.Child("minReplicas"), minR, "must be greater than or equal to 1"))
	}
	if h.Spec.MaxReplicas < minR {
		errs = append(errs, field.Invalid(spec.Child("maxReplicas"), h.Spec.MaxReplicas,
			"must be greater than or equal to `minReplicas`"))
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"},
		h.Name, errs)
}

func (s *Server) handleHPA(req request) (runtime.Object, []byte, *apierrors.StatusError) {
	if req.verb == "list" {
		list := &autoscalingv2.HorizontalPodAutoscalerList{TypeMeta: metav1.TypeMeta{
			APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscalerList"}}
		for k, h := range s.hpas {
			if req.ns == "" || k.ns == req.ns {
				list.Items = append(list.Items, *s.hpaView(h))
			}
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
		return list, nil, nil
	}
	h := s.hpas[key{req.ns, req.name}]
	if h == nil {
		return nil, req.body, apierrors.NewNotFound(hpaGR, req.name)
	}
	var next autoscalingv2.HorizontalPodAutoscaler
	var body []byte
	switch req.verb {
	case "get":
		return s.hpaView(h), nil, nil
	case "update":
		var st *apierrors.StatusError
		if body, st = decode(req, &next); st != nil {
			return nil, nil, st
		}
	case "patch":
		out, st := patchJSON(req, h)
		if st != nil {
			return nil, req.body, st
		}
		if err := json.Unmarshal(out, &next); err != nil {
			return nil, req.body, apierrors.NewBadRequest("patched hpa: " + err.Error())
		}
		body = req.body
	default:
		return nil, nil, apierrors.NewMethodNotSupported(hpaGR, req.verb)
	}
	if next.ResourceVersion != "" && next.ResourceVersion != h.ResourceVersion {
		return nil, body, conflict(hpaGR, req.name)
	}
	if st := validateHPA(&next); st != nil {
		return nil, body, st
	}
	h.Labels, h.Annotations, h.Spec = next.Labels, next.Annotations, next.Spec
	h.Generation++
	h.ResourceVersion = s.nextRV()
	return s.hpaView(h), body, nil
}

// Lease returns a copy of Lease ns/name.
func (s *Server) Lease(ns, name string) (*coordinationv1.Lease, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.leases[key{ns, name}]
	if l == nil {
		return nil, false
	}
	return l.DeepCopy(), true
}

// handleLease stores Leases with optimistic concurrency, as leader election needs: a create
// of an existing Lease answers 409 AlreadyExists and an update with a stale resourceVersion
// answers 409 Conflict.
func (s *Server) handleLease(req request) (runtime.Object, []byte, *apierrors.StatusError) {
	switch req.verb {
	case "list":
		list := &coordinationv1.LeaseList{TypeMeta: metav1.TypeMeta{
			APIVersion: "coordination.k8s.io/v1", Kind: "LeaseList"}}
		for k, l := range s.leases {
			if req.ns == "" || k.ns == req.ns {
				list.Items = append(list.Items, *l.DeepCopy())
			}
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
		return list, nil, nil
	case "create":
		l := &coordinationv1.Lease{}
		body, st := decode(req, l)
		if st != nil {
			return nil, nil, st
		}
		if s.leases[key{req.ns, l.Name}] != nil {
			return nil, body, apierrors.NewAlreadyExists(leaseGR, l.Name)
		}
		l.TypeMeta, l.Namespace, l.UID = leaseTM, req.ns, s.newUID()
		l.CreationTimestamp = metav1.NewTime(time.Now().UTC().Truncate(time.Second))
		l.ResourceVersion = s.nextRV()
		s.leases[key{req.ns, l.Name}] = l
		return l.DeepCopy(), body, nil
	}
	l := s.leases[key{req.ns, req.name}]
	if l == nil {
		return nil, req.body, apierrors.NewNotFound(leaseGR, req.name)
	}
	switch req.verb {
	case "get":
		return l.DeepCopy(), nil, nil
	case "delete":
		delete(s.leases, key{req.ns, req.name})
		return &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusSuccess}, nil, nil
	case "update":
		next := &coordinationv1.Lease{}
		body, st := decode(req, next)
		if st != nil {
			return nil, nil, st
		}
		if next.ResourceVersion != l.ResourceVersion {
			return nil, body, conflict(leaseGR, req.name)
		}
		l.Labels, l.Annotations, l.Spec = next.Labels, next.Annotations, next.Spec
		l.ResourceVersion = s.nextRV()
		return l.DeepCopy(), body, nil
	}
	return nil, nil, apierrors.NewMethodNotSupported(leaseGR, req.verb)
}
