package kubefake

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Annotations and labels the deployment controller manages.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	PodTemplateHashLabel      = appsv1.DefaultDeploymentUniqueLabelKey
)

var (
	deploymentGR = schema.GroupResource{Group: "apps", Resource: Deployments}
	replicaSetGR = schema.GroupResource{Group: "apps", Resource: ReplicaSets}
	deploymentTM = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	replicaSetTM = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"}
)

// depState is a Deployment and how its simulated rollout proceeds.
type depState struct {
	d    *appsv1.Deployment
	step int32 // replicas gained per read
	hold bool  // readiness does not move
}

func (s *Server) nextRV() string {
	s.rv++
	return strconv.FormatInt(s.rv, 10)
}

func (s *Server) newUID() types.UID {
	s.uid++
	return types.UID(fmt.Sprintf("00000000-0000-4000-8000-%012d", s.uid))
}

// SetDeployment creates or changes Deployment ns/name: spec.replicas becomes replicas and
// ready, available and updated replicas become ready. A new Deployment gets the labels
// app=<name>, one container named after it with image "cato/<name>:1.0" and a ReplicaSet
// at revision 1. When ready differs from replicas, later reads move it toward replicas.
func (s *Server) SetDeployment(ns, name string, replicas, ready int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.deps[key{ns, name}]
	if ds == nil {
		d := &appsv1.Deployment{
			TypeMeta: deploymentTM,
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: ns, Labels: map[string]string{"app": name},
				Annotations: map[string]string{},
			},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: name, Image: "cato/" + name + ":1.0",
					}}},
				},
			},
		}
		ds = s.createDeployment(d)
	}
	d := ds.d
	d.Spec.Replicas = &replicas
	d.Generation++
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: replicas, ReadyReplicas: ready,
		AvailableReplicas: ready, UpdatedReplicas: ready,
		UnavailableReplicas: max(0, replicas-ready),
	}
	s.rollout(ds)
	s.setStep(ds)
	d.ResourceVersion = s.nextRV()
}

// SetImage sets the image of Deployment ns/name's first container, which starts a new
// revision as the deployment controller would. It reports whether the Deployment exists.
func (s *Server) SetImage(ns, name, image string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.deps[key{ns, name}]
	if ds == nil || len(ds.d.Spec.Template.Spec.Containers) == 0 {
		return false
	}
	next := ds.d.DeepCopy()
	next.Spec.Template.Spec.Containers[0].Image = image
	s.applyDeployment(ds, next)
	return true
}

// SetPaused pauses or resumes Deployment ns/name. It reports whether the Deployment exists.
func (s *Server) SetPaused(ns, name string, paused bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.deps[key{ns, name}]
	if ds == nil {
		return false
	}
	next := ds.d.DeepCopy()
	next.Spec.Paused = paused
	s.applyDeployment(ds, next)
	return true
}

// HoldRollout stops (hold true) or restarts readiness progress of Deployment ns/name, to
// simulate pods that never become ready. It reports whether the Deployment exists.
func (s *Server) HoldRollout(ns, name string, hold bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.deps[key{ns, name}]
	if ds == nil {
		return false
	}
	ds.hold = hold
	return true
}

// Deployment returns a copy of Deployment ns/name as stored, without advancing its rollout.
func (s *Server) Deployment(ns, name string) (*appsv1.Deployment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.deps[key{ns, name}]
	if ds == nil {
		return nil, false
	}
	return ds.d.DeepCopy(), true
}

// ReplicaSetsOf returns copies of the ReplicaSets in ns, oldest revision first.
func (s *Server) ReplicaSetsOf(ns string) []appsv1.ReplicaSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []appsv1.ReplicaSet
	for k, rs := range s.rss {
		if k.ns == ns {
			out = append(out, *rs.DeepCopy())
		}
	}
	sort.Slice(out, func(i, j int) bool { return revision(&out[i]) < revision(&out[j]) })
	return out
}

func (s *Server) createDeployment(d *appsv1.Deployment) *depState {
	d.TypeMeta = deploymentTM
	d.UID = s.newUID()
	d.CreationTimestamp = metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	d.Generation = 1
	if d.Spec.Replicas == nil {
		one := int32(1)
		d.Spec.Replicas = &one
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Status = appsv1.DeploymentStatus{}
	ds := &depState{d: d}
	s.deps[key{d.Namespace, d.Name}] = ds
	s.rollout(ds)
	s.setStep(ds)
	d.ResourceVersion = s.nextRV()
	return ds
}

// applyDeployment stores next's metadata and spec over ds, as an update does, and lets the
// simulated controller react.
func (s *Server) applyDeployment(ds *depState, next *appsv1.Deployment) {
	d := ds.d
	if next.Spec.Replicas == nil {
		next.Spec.Replicas = d.Spec.Replicas
	}
	templateChanged := !equalIgnoreHash(&d.Spec.Template, &next.Spec.Template)
	if !equality.Semantic.DeepEqual(d.Spec, next.Spec) {
		d.Generation++
	}
	d.Labels, d.Annotations, d.Spec = next.Labels, next.Annotations, next.Spec
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	if templateChanged && !d.Spec.Paused {
		d.Status.UpdatedReplicas = 0
	}
	s.rollout(ds)
	s.setStep(ds)
	d.ResourceVersion = s.nextRV()
}

func (s *Server) setScale(ds *depState, replicas int32) {
	d := ds.d
	if *d.Spec.Replicas != replicas {
		d.Spec.Replicas = &replicas
		d.Generation++
	}
	s.rollout(ds)
	s.setStep(ds)
	d.ResourceVersion = s.nextRV()
}

// setStep decides how many replicas each read moves, so that the rollout ends after
// readyTicks reads.
func (s *Server) setStep(ds *depState) {
	want := *ds.d.Spec.Replicas
	diff := max(abs(want-ds.d.Status.ReadyReplicas), abs(want-ds.d.Status.UpdatedReplicas))
	ds.step = max(1, (diff+int32(s.readyTicks)-1)/int32(s.readyTicks))
}

// tick advances a Deployment's simulated rollout by one read.
func (s *Server) tick(ds *depState) {
	d := ds.d
	before := d.Status
	want := *d.Spec.Replicas
	d.Status.ObservedGeneration = d.Generation
	d.Status.Replicas = want
	if !ds.hold {
		d.Status.ReadyReplicas = toward(d.Status.ReadyReplicas, want, ds.step)
		if !d.Spec.Paused {
			d.Status.UpdatedReplicas = toward(d.Status.UpdatedReplicas, want, ds.step)
		}
	}
	d.Status.AvailableReplicas = d.Status.ReadyReplicas
	d.Status.UnavailableReplicas = max(0, want-d.Status.AvailableReplicas)
	if equality.Semantic.DeepEqual(before, d.Status) {
		return
	}
	d.ResourceVersion = s.nextRV()
	for _, rs := range s.ownedBy(d) {
		if rs.Annotations[RevisionAnnotation] == d.Annotations[RevisionAnnotation] {
			rs.Status.Replicas = *rs.Spec.Replicas
			rs.Status.ReadyReplicas = min(d.Status.ReadyReplicas, *rs.Spec.Replicas)
			rs.Status.AvailableReplicas = rs.Status.ReadyReplicas
			rs.ResourceVersion = s.nextRV()
		}
	}
}

func toward(cur, want, step int32) int32 {
	switch {
	case cur < want:
		return min(want, cur+step)
	case cur > want:
		return max(want, cur-step)
	}
	return cur
}

func abs(n int32) int32 {
	if n < 0 {
		return -n
	}
	return n
}

// rollout does what the deployment controller does with revisions: the ReplicaSet whose
// template matches the Deployment's becomes the newest revision (a new one is made when
// none matches) and gets the Deployment's replicas; the others get none. A paused
// Deployment only scales.
func (s *Server) rollout(ds *depState) {
	d := ds.d
	owned := s.ownedBy(d)
	var match *appsv1.ReplicaSet
	maxRev := int64(0)
	for _, rs := range owned {
		maxRev = max(maxRev, revision(rs))
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			match = rs
		}
	}
	switch {
	case match == nil && d.Spec.Paused:
		match = s.newestOf(owned)
	case match == nil:
		match = s.newReplicaSet(d, maxRev+1)
	case revision(match) != maxRev && !d.Spec.Paused:
		old := match.Annotations[RevisionAnnotation]
		if h := match.Annotations[RevisionHistoryAnnotation]; h != "" {
			old = h + "," + old
		}
		match.Annotations[RevisionHistoryAnnotation] = old
		match.Annotations[RevisionAnnotation] = strconv.FormatInt(maxRev+1, 10)
	}
	if match == nil {
		return
	}
	d.Annotations[RevisionAnnotation] = match.Annotations[RevisionAnnotation]
	for _, rs := range s.ownedBy(d) {
		n := int32(0)
		if rs == match {
			n = *d.Spec.Replicas
		}
		if rs.Spec.Replicas == nil || *rs.Spec.Replicas != n {
			rs.Spec.Replicas = &n
			rs.Status.Replicas = n
			rs.Status.ReadyReplicas = min(rs.Status.ReadyReplicas, n)
			rs.Status.AvailableReplicas = rs.Status.ReadyReplicas
			rs.ResourceVersion = s.nextRV()
		}
	}
}

func (s *Server) newestOf(list []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	var newest *appsv1.ReplicaSet
	for _, rs := range list {
		if newest == nil || revision(rs) > revision(newest) {
			newest = rs
		}
	}
	return newest
}

func (s *Server) newReplicaSet(d *appsv1.Deployment, rev int64) *appsv1.ReplicaSet {
	hash := templateHash(&d.Spec.Template)
	tmpl := d.Spec.Template.DeepCopy()
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[PodTemplateHashLabel] = hash
	sel := d.Spec.Selector.DeepCopy()
	if sel == nil {
		sel = &metav1.LabelSelector{}
	}
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[PodTemplateHashLabel] = hash
	ann := map[string]string{}
	for k, v := range d.Annotations {
		if k != RevisionAnnotation && k != RevisionHistoryAnnotation {
			ann[k] = v
		}
	}
	ann[RevisionAnnotation] = strconv.FormatInt(rev, 10)
	zero := int32(0)
	isController := true
	rs := &appsv1.ReplicaSet{
		TypeMeta: replicaSetTM,
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace, UID: s.newUID(),
			Labels: tmpl.Labels, Annotations: ann, ResourceVersion: s.nextRV(), Generation: 1,
			CreationTimestamp: metav1.NewTime(time.Now().UTC().Truncate(time.Second)),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID,
				Controller: &isController, BlockOwnerDeletion: &isController,
			}},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, Selector: sel, Template: *tmpl},
	}
	s.rss[key{rs.Namespace, rs.Name}] = rs
	return rs
}

func (s *Server) ownedBy(d *appsv1.Deployment) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for k, rs := range s.rss {
		if k.ns == d.Namespace && metav1.IsControlledBy(rs, d) {
			out = append(out, rs)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func revision(rs *appsv1.ReplicaSet) int64 {
	n, _ := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
	return n
}

// equalIgnoreHash compares pod templates without the pod-template-hash label, as the
// deployment controller does.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, PodTemplateHashLabel)
	delete(b.Labels, PodTemplateHashLabel)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	return equality.Semantic.DeepEqual(a, b)
}

func templateHash(t *corev1.PodTemplateSpec) string {
	c := t.DeepCopy()
	delete(c.Labels, PodTemplateHashLabel)
	b, _ := json.Marshal(c)
	h := fnv.New32a()
	_, _ = h.Write(b)
	return fmt.Sprintf("%08x", h.Sum32())
}

func (s *Server) deployment(req request) (*depState, *apierrors.StatusError) {
	ds := s.deps[key{req.ns, req.name}]
	if ds == nil {
		return nil, apierrors.NewNotFound(deploymentGR, req.name)
	}
	return ds, nil
}

func selectorOf(req request) (labels.Selector, *apierrors.StatusError) {
	sel, err := labels.Parse(req.r.URL.Query().Get("labelSelector"))
	if err != nil {
		return nil, apierrors.NewBadRequest("labelSelector: " + err.Error())
	}
	return sel, nil
}

func (s *Server) handleDeployment(req request) (runtime.Object, []byte, *apierrors.StatusError) {
	switch req.verb {
	case "list":
		sel, st := selectorOf(req)
		if st != nil {
			return nil, nil, st
		}
		list := &appsv1.DeploymentList{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1",
			Kind: "DeploymentList"}}
		for k, ds := range s.deps {
			if (req.ns == "" || k.ns == req.ns) && sel.Matches(labels.Set(ds.d.Labels)) {
				s.tick(ds)
				list.Items = append(list.Items, *ds.d.DeepCopy())
			}
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
		list.ResourceVersion = strconv.FormatInt(s.rv, 10)
		return list, nil, nil
	case "create":
		d := &appsv1.Deployment{}
		body, st := decode(req, d)
		if st != nil {
			return nil, nil, st
		}
		d.Namespace = req.ns
		if s.deps[key{req.ns, d.Name}] != nil {
			return nil, body, apierrors.NewAlreadyExists(deploymentGR, d.Name)
		}
		return s.createDeployment(d).d.DeepCopy(), body, nil
	}
	ds, st := s.deployment(req)
	if st != nil {
		return nil, req.body, st
	}
	switch req.verb {
	case "get":
		s.tick(ds)
		return ds.d.DeepCopy(), nil, nil
	case "update":
		next := &appsv1.Deployment{}
		body, st := decode(req, next)
		if st != nil {
			return nil, nil, st
		}
		if next.ResourceVersion != "" && next.ResourceVersion != ds.d.ResourceVersion {
			return nil, body, conflict(deploymentGR, req.name)
		}
		s.applyDeployment(ds, next)
		return ds.d.DeepCopy(), body, nil
	case "patch":
		out, st := patchJSON(req, ds.d)
		if st != nil {
			return nil, req.body, st
		}
		next := &appsv1.Deployment{}
		if err := json.Unmarshal(out, next); err != nil {
			return nil, req.body, apierrors.NewBadRequest("patched deployment: " + err.Error())
		}
		if next.ResourceVersion != ds.d.ResourceVersion {
			return nil, req.body, conflict(deploymentGR, req.name)
		}
		s.applyDeployment(ds, next)
		return ds.d.DeepCopy(), req.body, nil
	}
	return nil, nil, apierrors.NewMethodNotSupported(deploymentGR, req.verb)
}

func (s *Server) scaleOf(ds *depState) *autoscalingv1.Scale {
	d := ds.d
	sel, _ := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, UID: d.UID,
			ResourceVersion: d.ResourceVersion, CreationTimestamp: d.CreationTimestamp},
		Spec:   autoscalingv1.ScaleSpec{Replicas: *d.Spec.Replicas},
		Status: autoscalingv1.ScaleStatus{Replicas: d.Status.Replicas, Selector: sel.String()},
	}
}

func (s *Server) handleScale(req request) (runtime.Object, []byte, *apierrors.StatusError) {
	ds, st := s.deployment(req)
	if st != nil {
		return nil, req.body, st
	}
	switch req.verb {
	case "get":
		s.tick(ds)
		return s.scaleOf(ds), nil, nil
	case "update":
		sc := &autoscalingv1.Scale{}
		body, st := decode(req, sc)
		if st != nil {
			return nil, nil, st
		}
		if sc.ResourceVersion != "" && sc.ResourceVersion != ds.d.ResourceVersion {
			return nil, body, conflict(deploymentGR, req.name)
		}
		if sc.Spec.Replicas < 0 {
			return nil, body, apierrors.NewBadRequest("spec.replicas must not be negative")
		}
		s.setScale(ds, sc.Spec.Replicas)
		return s.scaleOf(ds), body, nil
	case "patch":
		out, st := patchJSON(req, s.scaleOf(ds))
		if st != nil {
			return nil, req.body, st
		}
		sc := &autoscalingv1.Scale{}
		if err := json.Unmarshal(out, sc); err != nil {
			return nil, req.body, apierrors.NewBadRequest("patched scale: " + err.Error())
		}
		s.setScale(ds, sc.Spec.Replicas)
		return s.scaleOf(ds), req.body, nil
	}
	return nil, nil, apierrors.NewMethodNotSupported(deploymentGR, req.verb)
}

func (s *Server) handleReplicaSets(req request) (runtime.Object, []byte, *apierrors.StatusError) {
	switch req.verb {
	case "list":
		sel, st := selectorOf(req)
		if st != nil {
			return nil, nil, st
		}
		list := &appsv1.ReplicaSetList{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1",
			Kind: "ReplicaSetList"}}
		for k, rs := range s.rss {
			if (req.ns == "" || k.ns == req.ns) && sel.Matches(labels.Set(rs.Labels)) {
				list.Items = append(list.Items, *rs.DeepCopy())
			}
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
		list.ResourceVersion = strconv.FormatInt(s.rv, 10)
		return list, nil, nil
	case "get":
		rs := s.rss[key{req.ns, req.name}]
		if rs == nil {
			return nil, nil, apierrors.NewNotFound(replicaSetGR, req.name)
		}
		return rs.DeepCopy(), nil, nil
	}
	return nil, nil, apierrors.NewMethodNotSupported(replicaSetGR, req.verb)
}

// handlePods lists the pods the Deployments in the namespace would have: ready ones
// Running, the others Pending.
func (s *Server) handlePods(req request) (runtime.Object, []byte, *apierrors.StatusError) {
	podsGR := schema.GroupResource{Resource: Pods}
	if req.verb != "list" {
		return nil, nil, apierrors.NewMethodNotSupported(podsGR, req.verb)
	}
	sel, st := selectorOf(req)
	if st != nil {
		return nil, nil, st
	}
	list := &corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"}}
	for k, ds := range s.deps {
		if req.ns != "" && k.ns != req.ns {
			continue
		}
		for _, rs := range s.ownedBy(ds.d) {
			if revision(rs) != revisionOf(ds.d) {
				continue
			}
			for i := int32(0); i < ds.d.Status.Replicas; i++ {
				pod := podFor(rs, i, i < ds.d.Status.ReadyReplicas)
				if sel.Matches(labels.Set(pod.Labels)) {
					list.Items = append(list.Items, pod)
				}
			}
		}
	}
	list.ResourceVersion = strconv.FormatInt(s.rv, 10)
	return list, nil, nil
}

func revisionOf(d *appsv1.Deployment) int64 {
	n, _ := strconv.ParseInt(d.Annotations[RevisionAnnotation], 10, 64)
	return n
}

func podFor(rs *appsv1.ReplicaSet, i int32, ready bool) corev1.Pod {
	isController := true
	pod := corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("%s-%05d", rs.Name, i), Namespace: rs.Namespace,
			Labels: rs.Spec.Template.Labels, CreationTimestamp: rs.CreationTimestamp,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet",
				Name: rs.Name, UID: rs.UID, Controller: &isController}},
		},
		Spec:   rs.Spec.Template.Spec,
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	if ready {
		pod.Status.Phase = corev1.PodRunning
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady,
			Status: corev1.ConditionTrue}}
	}
	return pod
}
