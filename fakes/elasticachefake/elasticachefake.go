// Package elasticachefake is an ElastiCache API on the wire, for tests and
// the sandbox. It speaks the AWS query protocol (form-encoded requests with
// Action and Version=2015-02-02, XML answers) for the operations catobot
// uses on a replication group, and moves a group through modifying to
// available after a set number of DescribeReplicationGroups calls.
package elasticachefake

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/thinktank/catobot/fakes/awsfake"
)

// APIVersion is the query protocol version ElastiCache requests carry.
const APIVersion = "2015-02-02"

// MaxReplicas is ElastiCache's limit on read replicas per node group.
const MaxReplicas = 5

// Group states, as ElastiCache spells them.
const (
	StatusAvailable = "available"
	StatusModifying = "modifying"
	StatusCreating  = "creating"
)

var nodeTypeRE = regexp.MustCompile(`^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$`)

// Group is a replication group's state in the fake.
type Group struct {
	ID       string
	Status   string // available, modifying, creating, ...
	NodeType string // e.g. cache.r7g.xlarge
	// ClusterMode is enabled, disabled or compatible.
	ClusterMode string
	// Shards is the number of node groups (1 with cluster mode disabled).
	Shards int
	// Replicas is the number of read replicas in each node group.
	Replicas int
	// Allowed lists the node types ListAllowedNodeTypeModifications
	// returns (scale up, then scale down); nil means any well-formed type.
	AllowedUp, AllowedDown []string
	// MemberStatus overrides a member cluster's status by its id, e.g.
	// {"cato-cache-production-002": "creating"}.
	MemberStatus map[string]string
}

// Cato returns the runbook's group: cato-cache-production on
// cache.r7g.xlarge, one primary and one replica (-001, -002).
func Cato() Group {
	return Group{
		ID:          "cato-cache-production",
		Status:      StatusAvailable,
		NodeType:    "cache.r7g.xlarge",
		ClusterMode: "disabled",
		Shards:      1,
		Replicas:    1,
		AllowedUp: []string{
			"cache.r7g.2xlarge", "cache.r7g.4xlarge", "cache.r7g.8xlarge",
			"cache.r7g.12xlarge", "cache.r7g.16xlarge",
		},
		AllowedDown: []string{"cache.r7g.large"},
	}
}

// Failure is an error the fake answers instead of doing an operation.
type Failure = awsfake.Failure

// pending is a change in progress on a group.
type pending struct {
	nodeType string // target node type, or ""
	replicas int    // target replicas, or -1
	done     int    // describe calls seen since the change started
}

// Fake is an ElastiCache endpoint. Use it as an http.Handler. It is safe
// for concurrent use.
type Fake struct {
	// Recorder holds every call received.
	Recorder *awsfake.Recorder
	// Faults gives the fake Fail and ClearFailures.
	awsfake.Faults

	mu      sync.Mutex
	groups  map[string]*Group
	changes map[string]*pending
	steps   int
}

// New returns a fake holding the groups given; with none it holds Cato().
func New(groups ...Group) *Fake {
	f := &Fake{
		Recorder: &awsfake.Recorder{},
		groups:   map[string]*Group{},
		changes:  map[string]*pending{},
		steps:    2,
	}
	if len(groups) == 0 {
		groups = []Group{Cato()}
	}
	for _, g := range groups {
		f.SetGroup(g)
	}
	return f
}

// SetGroup adds or replaces a group and drops any change in progress on it.
func (f *Fake) SetGroup(g Group) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g.Shards == 0 {
		g.Shards = 1
	}
	if g.ClusterMode == "" {
		g.ClusterMode = "disabled"
	}
	g.MemberStatus = cloneMap(g.MemberStatus)
	f.groups[g.ID] = &g
	delete(f.changes, g.ID)
}

// Group returns a copy of the named group and reports whether it exists.
func (f *Fake) Group(id string) (Group, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[id]
	if !ok {
		return Group{}, false
	}
	c := *g
	c.MemberStatus = cloneMap(g.MemberStatus)
	return c, true
}

// SetSteps sets how many DescribeReplicationGroups calls a change takes
// to finish (at least 1; 2 by default).
func (f *Fake) SetSteps(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.steps = max(n, 1)
}

// ServeHTTP answers one query-protocol request.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, form, err := awsfake.ReadQuery(r)
	if err != nil {
		awsfake.WriteQueryError(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	f.Recorder.Record(awsfake.Call{
		Service: awsfake.SigningService(r), Op: op, Body: []byte(form.Encode()),
	})
	if v := form.Get("Version"); v != APIVersion {
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidParameterValue",
			fmt.Sprintf("unsupported Version %q", v))
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.Take(op); ok {
		awsfake.WriteQueryError(w, fl.Status, fl.Code, fl.Message)
		return
	}
	switch op {
	case "DescribeReplicationGroups":
		f.describeGroups(w, form)
	case "DescribeCacheClusters":
		f.describeClusters(w, form)
	case "ModifyReplicationGroup":
		f.modify(w, form)
	case "IncreaseReplicaCount", "DecreaseReplicaCount":
		f.replicas(w, op, form)
	case "ListAllowedNodeTypeModifications":
		f.allowed(w, form)
	default:
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("the fake does not implement %s", op))
	}
}

func (f *Fake) lookup(w http.ResponseWriter, id string) *Group {
	g, ok := f.groups[id]
	if !ok {
		awsfake.WriteQueryError(w, http.StatusNotFound, "ReplicationGroupNotFoundFault",
			fmt.Sprintf("ReplicationGroup %s not found.", id))
		return nil
	}
	return g
}

func (f *Fake) describeGroups(w http.ResponseWriter, form url.Values) {
	var out struct {
		XMLName xml.Name   `xml:"Result"`
		Groups  []xmlGroup `xml:"ReplicationGroups>ReplicationGroup"`
	}
	id := form.Get("ReplicationGroupId")
	if id != "" {
		g := f.lookup(w, id)
		if g == nil {
			return
		}
		f.advance(g)
		out.Groups = append(out.Groups, f.render(g))
	} else {
		for _, k := range sortedKeys(f.groups) {
			g := f.groups[k]
			f.advance(g)
			out.Groups = append(out.Groups, f.render(g))
		}
	}
	awsfake.WriteQuery(w, "DescribeReplicationGroups", out)
}

// advance moves a change in progress one describe call further.
func (f *Fake) advance(g *Group) {
	c, ok := f.changes[g.ID]
	if !ok {
		return
	}
	c.done++
	if c.done < f.steps {
		return
	}
	if c.nodeType != "" {
		g.NodeType = c.nodeType
	}
	if c.replicas >= 0 {
		g.Replicas = c.replicas
	}
	g.Status = StatusAvailable
	delete(f.changes, g.ID)
}

func (f *Fake) describeClusters(w http.ResponseWriter, form url.Values) {
	var out struct {
		XMLName  xml.Name     `xml:"Result"`
		Clusters []xmlCluster `xml:"CacheClusters>CacheCluster"`
	}
	want := form.Get("CacheClusterId")
	for _, k := range sortedKeys(f.groups) {
		g := f.groups[k]
		for _, m := range f.members(g) {
			if want == "" || want == m.CacheClusterId {
				out.Clusters = append(out.Clusters, m)
			}
		}
	}
	if want != "" && len(out.Clusters) == 0 {
		awsfake.WriteQueryError(w, http.StatusNotFound, "CacheClusterNotFound",
			fmt.Sprintf("CacheCluster %s not found.", want))
		return
	}
	awsfake.WriteQuery(w, "DescribeCacheClusters", out)
}

func (f *Fake) modify(w http.ResponseWriter, form url.Values) {
	g := f.lookup(w, form.Get("ReplicationGroupId"))
	if g == nil {
		return
	}
	nt := form.Get("CacheNodeType")
	switch {
	case g.Status != StatusAvailable:
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidReplicationGroupState",
			fmt.Sprintf("Replication group must be in available state to modify. Current state: %s.", g.Status))
		return
	case nt == "":
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidParameterCombination",
			"No modifications were requested.")
		return
	case !nodeTypeRE.MatchString(nt):
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidParameterValue",
			fmt.Sprintf("Invalid CacheNodeType: %s", nt))
		return
	case nt == g.NodeType:
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidParameterCombination",
			fmt.Sprintf("Cannot modify to the same cache node type %s.", nt))
		return
	case (g.AllowedUp != nil || g.AllowedDown != nil) &&
		!slices.Contains(g.AllowedUp, nt) && !slices.Contains(g.AllowedDown, nt):
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidParameterCombination",
			fmt.Sprintf("Cannot scale from %s to %s.", g.NodeType, nt))
		return
	}
	g.Status = StatusModifying
	f.changes[g.ID] = &pending{nodeType: nt, replicas: -1}
	awsfake.WriteQuery(w, "ModifyReplicationGroup", struct {
		XMLName xml.Name `xml:"Result"`
		Group   xmlGroup `xml:"ReplicationGroup"`
	}{Group: f.render(g)})
}

func (f *Fake) replicas(w http.ResponseWriter, op string, form url.Values) {
	g := f.lookup(w, form.Get("ReplicationGroupId"))
	if g == nil {
		return
	}
	n, err := strconv.Atoi(form.Get("NewReplicaCount"))
	switch {
	case g.Status != StatusAvailable:
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidReplicationGroupState",
			fmt.Sprintf("Replication group %s is not in available state. Current state: %s.", g.ID, g.Status))
		return
	case form.Get("ApplyImmediately") != "true":
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidParameterValue",
			"ApplyImmediately must be true.")
		return
	case err != nil || n < 0 || n > MaxReplicas:
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidParameterValue",
			fmt.Sprintf("NewReplicaCount must be between 0 and %d.", MaxReplicas))
		return
	case op == "IncreaseReplicaCount" && n <= g.Replicas,
		op == "DecreaseReplicaCount" && n >= g.Replicas:
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidParameterValue",
			fmt.Sprintf("The new replica count %d must be %s than the current count %d.",
				n, map[bool]string{true: "greater", false: "less"}[op == "IncreaseReplicaCount"], g.Replicas))
		return
	}
	g.Status = StatusModifying
	f.changes[g.ID] = &pending{replicas: n}
	awsfake.WriteQuery(w, op, struct {
		XMLName xml.Name `xml:"Result"`
		Group   xmlGroup `xml:"ReplicationGroup"`
	}{Group: f.render(g)})
}

func (f *Fake) allowed(w http.ResponseWriter, form url.Values) {
	g := f.lookup(w, form.Get("ReplicationGroupId"))
	if g == nil {
		return
	}
	awsfake.WriteQuery(w, "ListAllowedNodeTypeModifications", struct {
		XMLName xml.Name `xml:"Result"`
		Up      []string `xml:"ScaleUpModifications>member"`
		Down    []string `xml:"ScaleDownModifications>member"`
	}{Up: g.AllowedUp, Down: g.AllowedDown})
}

// memberIDs returns the member cluster ids of g with n replicas per shard.
func memberIDs(g *Group, replicas int) [][]string {
	var shards [][]string
	for s := 1; s <= g.Shards; s++ {
		var ids []string
		for m := 1; m <= replicas+1; m++ {
			if g.ClusterMode == "disabled" {
				ids = append(ids, fmt.Sprintf("%s-%03d", g.ID, m))
			} else {
				ids = append(ids, fmt.Sprintf("%s-%04d-%03d", g.ID, s, m))
			}
		}
		shards = append(shards, ids)
	}
	return shards
}

// members returns g's member clusters as DescribeCacheClusters shows them,
// including those a change in progress is creating.
func (f *Fake) members(g *Group) []xmlCluster {
	c := f.changes[g.ID]
	n := g.Replicas
	if c != nil && c.replicas > n {
		n = c.replicas
	}
	var out []xmlCluster
	all := memberIDs(g, n)
	total := len(all) * (n + 1)
	i := 0
	for _, shard := range all {
		for m, id := range shard {
			cl := xmlCluster{
				CacheClusterId: id, CacheClusterStatus: StatusAvailable,
				CacheNodeType: g.NodeType, ReplicationGroupId: g.ID,
				Engine: "valkey", NumCacheNodes: 1,
			}
			if c != nil && c.nodeType != "" {
				cl.CacheClusterStatus = StatusModifying
				// Nodes move to the new type one by one as the change advances.
				if i < total*c.done/f.steps {
					cl.CacheNodeType = c.nodeType
				}
				cl.Pending = &xmlPendingCluster{CacheNodeType: c.nodeType}
			}
			if c != nil && c.replicas >= 0 && m > c.replicas {
				cl.CacheClusterStatus = "deleting"
			}
			if c != nil && c.replicas >= 0 && m > g.Replicas {
				cl.CacheClusterStatus = StatusCreating
			}
			if s, ok := g.MemberStatus[id]; ok {
				cl.CacheClusterStatus = s
			}
			out = append(out, cl)
			i++
		}
	}
	return out
}

func (f *Fake) render(g *Group) xmlGroup {
	x := xmlGroup{
		ReplicationGroupId: g.ID,
		Description:        "catobot fake",
		Status:             g.Status,
		CacheNodeType:      g.NodeType,
		ClusterEnabled:     g.ClusterMode == "enabled",
		ClusterMode:        g.ClusterMode,
		Engine:             "valkey",
		AutomaticFailover:  "enabled",
		MultiAZ:            "enabled",
	}
	members := f.members(g)
	per := len(members) / g.Shards
	for s := 0; s < g.Shards; s++ {
		ng := xmlNodeGroup{NodeGroupID: fmt.Sprintf("%04d", s+1), Status: g.Status}
		for m, cl := range members[s*per : (s+1)*per] {
			x.MemberClusters = append(x.MemberClusters, cl.CacheClusterId)
			role := "replica"
			if m == 0 {
				role = "primary"
			}
			ng.Members = append(ng.Members, xmlMember{
				CacheClusterID: cl.CacheClusterId, CacheNodeID: "0001", CurrentRole: role,
			})
		}
		x.NodeGroups = append(x.NodeGroups, ng)
	}
	return x
}

type xmlGroup struct {
	ReplicationGroupId string
	Description        string
	Status             string
	MemberClusters     []string       `xml:"MemberClusters>ClusterId"`
	NodeGroups         []xmlNodeGroup `xml:"NodeGroups>NodeGroup"`
	AutomaticFailover  string
	MultiAZ            string
	ClusterEnabled     bool
	CacheNodeType      string
	ClusterMode        string
	Engine             string
}

type xmlNodeGroup struct {
	NodeGroupID string      `xml:"NodeGroupId"`
	Status      string      `xml:"Status"`
	Members     []xmlMember `xml:"NodeGroupMembers>NodeGroupMember"`
}

type xmlMember struct {
	CacheClusterID string `xml:"CacheClusterId"`
	CacheNodeID    string `xml:"CacheNodeId"`
	CurrentRole    string `xml:"CurrentRole"`
}

type xmlCluster struct {
	CacheClusterId     string
	CacheNodeType      string
	Engine             string
	CacheClusterStatus string
	NumCacheNodes      int
	Pending            *xmlPendingCluster `xml:"PendingModifiedValues,omitempty"`
	ReplicationGroupId string
}

type xmlPendingCluster struct {
	CacheNodeType string
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
