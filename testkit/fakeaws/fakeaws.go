// Package fakeaws is a local server for tests that speaks the awsJson1_1
// protocol of SSM (activations, managed instances), Secrets Manager (secret
// values) and ECS (container instances), so handlers are tested with the real
// SDK clients. It keeps state like the services do, records every request by
// X-Amz-Target, and can be scripted to answer a target with given replies
// (throttling, access denied) before it behaves normally again.
package fakeaws

import (
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/encoding/cbor"
)

// Targets of the operations the fake implements.
const (
	CreateActivation            = "AmazonSSM.CreateActivation"
	DeleteActivation            = "AmazonSSM.DeleteActivation"
	DescribeActivations         = "AmazonSSM.DescribeActivations"
	DescribeInstanceInformation = "AmazonSSM.DescribeInstanceInformation"
	DeregisterManagedInstance   = "AmazonSSM.DeregisterManagedInstance"
	// SendCommand answers a new command id; GetCommandInvocation says
	// every invocation succeeded (script another answer with On).
	SendCommand                 = "AmazonSSM.SendCommand"
	GetCommandInvocation        = "AmazonSSM.GetCommandInvocation"
	GetParametersByPath         = "AmazonSSM.GetParametersByPath"
	GetParameter                = "AmazonSSM.GetParameter"
	GetSecretValue              = "secretsmanager.GetSecretValue"
	PutSecretValue              = "secretsmanager.PutSecretValue"
	UpdateSecretVersionStage    = "secretsmanager.UpdateSecretVersionStage"
	ListContainerInstances      = "AmazonEC2ContainerServiceV20141113.ListContainerInstances"
	DeregisterContainerInstance = "AmazonEC2ContainerServiceV20141113.DeregisterContainerInstance"
	DescribeContainerInstances  = "AmazonEC2ContainerServiceV20141113.DescribeContainerInstances"
	DescribeServices            = "AmazonEC2ContainerServiceV20141113.DescribeServices"
	UpdateService               = "AmazonEC2ContainerServiceV20141113.UpdateService"
	ListServices                = "AmazonEC2ContainerServiceV20141113.ListServices"
	GetQueueAttributes          = "AmazonSQS.GetQueueAttributes"
	// DescribeStacks is CloudFormation's, which speaks the query protocol
	// (a form in, XML out); the fake records it under this name.
	DescribeStacks = "cloudformation.DescribeStacks"
)

// Throttling is SSM's and Secrets Manager's answer when a call rate is exceeded.
var Throttling = Reply{400, `{"__type":"ThrottlingException","message":"Rate exceeded"}`}

// Reply is one scripted answer.
type Reply struct {
	Status int
	Body   string
}

// Activation is an SSM activation as the fake stores it.
type Activation struct {
	ID, Code, IamRole, DefaultInstanceName, Description string
	Limit, Registrations                                int
	Expiry                                              time.Time
	Tags                                                map[string]string
}

// Instance is a managed (hybrid) instance.
type Instance struct {
	ID, ActivationID string
	Tags             map[string]string
	// Name, ComputerName (the machine's host name) and PingStatus as SSM
	// reports them; PingStatus "" is Online.
	Name, ComputerName, PingStatus string
	// AgentVersion is the SSM Agent's; "" is 3.3.3100.0.
	AgentVersion string
}

// Service is an ECS service's counts.
type Service struct {
	Desired, Running, Pending int
	// TaskDefinition is the service's task definition ARN (optional).
	TaskDefinition string
	// Status is ACTIVE unless set (DRAINING, INACTIVE).
	Status string
}

// Queue is an SQS queue's approximate counts.
type Queue struct {
	Visible, InFlight int
}

// ServiceKey is the key of Services.
func ServiceKey(cluster, service string) string { return cluster + "/" + service }

// Fake is the server and its state. Lock Mu to read or change the state
// while the server runs.
type Fake struct {
	URL string
	Mu  sync.Mutex
	// Now is the services' clock (for Expired).
	Now func() time.Time
	// PageSize caps every list answer, to test pagination.
	PageSize    int
	Activations map[string]*Activation
	// Secrets are the secrets' AWSCURRENT values (set one to seed a secret).
	Secrets map[string]string
	// versions are the AWSCURRENT version ids, staged the values put
	// under another stage, by secret and version id.
	versions           map[string]string
	staged             map[string]map[string]string
	Instances          map[string]*Instance
	ContainerInstances map[string][]string // by cluster name
	// Disconnected lists container instance ARNs whose agent is not connected.
	Disconnected map[string]bool
	// Services by cluster and service name.
	Services map[string]*Service
	// Queues' message counts by queue URL.
	Queues map[string]*Queue
	// OldestAge is CloudWatch's ApproximateAgeOfOldestMessage by queue name;
	// a queue without an entry has no data point.
	OldestAge map[string]float64
	// StackStatus of each stack, by stack id (ARN).
	StackStatus map[string]string
	// StackResources of each stack, by stack name (a request may give the
	// name or the id): what ListStackResources answers.
	StackResources map[string][]StackResource
	// Parameters are Parameter Store's String parameters by name.
	Parameters map[string]string
	t          *testing.T
	n          int
	script     map[string][]Reply
	requests   map[string][]map[string]any
}

// New starts a fake for the test; it stops when the test ends.
func New(t *testing.T) *Fake {
	f := &Fake{
		t: t, Now: time.Now, PageSize: 50,
		Activations: map[string]*Activation{}, Secrets: map[string]string{}, versions: map[string]string{}, staged: map[string]map[string]string{}, Instances: map[string]*Instance{},
		ContainerInstances: map[string][]string{}, Disconnected: map[string]bool{}, Services: map[string]*Service{}, Queues: map[string]*Queue{}, OldestAge: map[string]float64{}, StackStatus: map[string]string{}, StackResources: map[string][]StackResource{}, Parameters: map[string]string{}, script: map[string][]Reply{}, requests: map[string][]map[string]any{},
	}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// On makes the next calls of target get replies, in order.
func (f *Fake) On(target string, replies ...Reply) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.script[target] = append(f.script[target], replies...)
}

// Calls returns the request bodies of target so far.
func (f *Fake) Calls(target string) []map[string]any {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return slices.Clone(f.requests[target])
}

// AddActivation stores an activation made outside the handler under test
// and returns it.
func (f *Fake) AddActivation(a Activation) *Activation {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if a.ID == "" {
		a.ID, a.Code = f.newID()
	}
	f.Activations[a.ID] = &a
	return &a
}

// Join registers a node with an activation: SSM gives it the activation's
// tags. It returns the managed instance id.
func (f *Fake) Join(activationID string) string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	a := f.Activations[activationID]
	if a == nil {
		f.t.Fatalf("fakeaws: join with unknown activation %s", activationID)
	}
	a.Registrations++
	f.n++
	id := fmt.Sprintf("mi-%017x", f.n)
	tags := map[string]string{}
	for k, v := range a.Tags {
		tags[k] = v
	}
	f.Instances[id] = &Instance{ID: id, ActivationID: activationID, Tags: tags}
	return id
}

// newID returns a new activation id and its code; the code is distinctive
// so tests can look for leaks.
// currentVersion is the version id of the secret's AWSCURRENT value; a value
// a test put into Secrets directly has one too.
func (f *Fake) currentVersion(id string) string {
	if f.versions[id] == "" {
		f.versions[id] = "version-initial"
	}
	return f.versions[id]
}

func (f *Fake) newID() (string, string) {
	f.n++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", f.n, f.n), fmt.Sprintf("SECRET-CODE-%06d", f.n)
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		f.serveQuery(w, r)
		return
	}
	if r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor" {
		f.serveCBOR(w, r)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	raw, _ := io.ReadAll(r.Body)
	var in map[string]any
	_ = json.Unmarshal(raw, &in)
	f.Mu.Lock()
	f.requests[target] = append(f.requests[target], in)
	var rep Reply
	if q := f.script[target]; len(q) > 0 {
		rep, f.script[target] = q[0], q[1:]
	} else {
		rep = f.answer(target, in)
	}
	f.Mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(rep.Status)
	_, _ = io.WriteString(w, rep.Body)
}

func ok(v any) Reply {
	b, err := json.Marshal(v)
	if err != nil {
		return Reply{500, `{"__type":"InternalFailure","message":"encode"}`}
	}
	return Reply{200, string(b)}
}

func fail(code, msg string) Reply {
	b, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
	return Reply{400, string(b)}
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// page returns the slice of ids for a request's token and size, and the next token.
func (f *Fake) page(ids []string, in map[string]any, tokenKey, maxKey string) ([]string, string) {
	start, _ := strconv.Atoi(str(in, tokenKey))
	max, _ := in[maxKey].(float64)
	size := f.PageSize
	if max > 0 && int(max) < size {
		size = int(max)
	}
	end := min(start+size, len(ids))
	if start > len(ids) {
		start = len(ids)
	}
	next := ""
	if end < len(ids) {
		next = strconv.Itoa(end)
	}
	return ids[start:end], next
}

// ecsPage answers an ECS List call: one page of arns under listKey.
func (f *Fake) ecsPage(listKey string, arns []string, in map[string]any) Reply {
	pageArns, next := f.page(arns, in, "nextToken", "maxResults")
	out := map[string]any{listKey: pageArns}
	if next != "" {
		out["nextToken"] = next
	}
	return ok(out)
}

func (f *Fake) answer(target string, in map[string]any) Reply {
	switch target {
	case CreateActivation:
		id, code := f.newID()
		a := &Activation{ID: id, Code: code, IamRole: str(in, "IamRole"), DefaultInstanceName: str(in, "DefaultInstanceName"),
			Description: str(in, "Description"), Limit: 1, Tags: map[string]string{}}
		if n, ok := in["RegistrationLimit"].(float64); ok {
			a.Limit = int(n)
		}
		if s, ok := in["ExpirationDate"].(float64); ok {
			a.Expiry = time.Unix(int64(s), 0).UTC()
		} else {
			a.Expiry = f.Now().Add(24 * time.Hour)
		}
		tags, _ := in["Tags"].([]any)
		for _, t := range tags {
			m, _ := t.(map[string]any)
			a.Tags[str(m, "Key")] = str(m, "Value")
		}
		f.Activations[id] = a
		return ok(map[string]any{"ActivationId": id, "ActivationCode": code})
	case DeleteActivation:
		id := str(in, "ActivationId")
		if f.Activations[id] == nil {
			return fail("InvalidActivation", "Activation ID "+id+" is not valid. Verify the ID and try again.")
		}
		delete(f.Activations, id)
		return ok(map[string]any{})
	case GetParameter:
		name := str(in, "Name")
		v, found := f.Parameters[name]
		if !found {
			return Reply{400, `{"__type":"ParameterNotFound","message":""}`}
		}
		return ok(map[string]any{"Parameter": map[string]any{"Name": name, "Type": "String", "Value": v}})
	case GetParametersByPath:
		// As SSM: at most 10 a page, the path's direct children unless
		// Recursive.
		path := strings.TrimSuffix(str(in, "Path"), "/") + "/"
		recursive, _ := in["Recursive"].(bool)
		var names []string
		for _, n := range sortedKeys(f.Parameters) {
			if rest, ok := strings.CutPrefix(n, path); ok && (recursive || !strings.Contains(rest, "/")) {
				names = append(names, n)
			}
		}
		if m, _ := in["MaxResults"].(float64); m > 10 {
			return Reply{400, `{"__type":"ValidationException","message":"1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10"}`}
		}
		if _, ok := in["MaxResults"]; !ok {
			in["MaxResults"] = float64(10)
		}
		names, next := f.page(names, in, "NextToken", "MaxResults")
		var list []map[string]any
		for _, n := range names {
			list = append(list, map[string]any{"Name": n, "Type": "String", "Value": f.Parameters[n]})
		}
		out := map[string]any{"Parameters": list}
		if next != "" {
			out["NextToken"] = next
		}
		return ok(out)
	case DescribeActivations:
		var want, roles []string
		filters, _ := in["Filters"].([]any)
		for _, fl := range filters {
			m, _ := fl.(map[string]any)
			vs, _ := m["FilterValues"].([]any)
			for _, v := range vs {
				switch str(m, "FilterKey") {
				case "ActivationIds":
					want = append(want, fmt.Sprint(v))
				case "IamRole":
					roles = append(roles, fmt.Sprint(v))
				}
			}
		}
		var ids []string
		for _, id := range sortedKeys(f.Activations) {
			if (want == nil || slices.Contains(want, id)) && (roles == nil || slices.Contains(roles, f.Activations[id].IamRole)) {
				ids = append(ids, id)
			}
		}
		ids, next := f.page(ids, in, "NextToken", "MaxResults")
		var list []map[string]any
		for _, id := range ids {
			a := f.Activations[id]
			var tags []map[string]string
			for _, k := range sortedKeys(a.Tags) {
				tags = append(tags, map[string]string{"Key": k, "Value": a.Tags[k]})
			}
			list = append(list, map[string]any{
				"Tags": tags, "ActivationId": a.ID, "IamRole": a.IamRole, "RegistrationLimit": a.Limit, "RegistrationsCount": a.Registrations,
				"ExpirationDate": a.Expiry.Unix(), "Expired": !f.Now().Before(a.Expiry), "DefaultInstanceName": a.DefaultInstanceName,
			})
		}
		out := map[string]any{"ActivationList": list}
		if next != "" {
			out["NextToken"] = next
		}
		return ok(out)
	case DescribeInstanceInformation:
		var ids []string
		for _, id := range sortedKeys(f.Instances) {
			if f.matches(f.Instances[id], in) {
				ids = append(ids, id)
			}
		}
		pageIDs, next := f.page(ids, in, "NextToken", "MaxResults")
		list := []map[string]any{}
		for _, id := range pageIDs {
			i := f.Instances[id]
			ping := i.PingStatus
			if ping == "" {
				ping = "Online"
			}
			list = append(list, map[string]any{"InstanceId": i.ID, "ActivationId": i.ActivationID, "PingStatus": ping, "ResourceType": "ManagedInstance",
				"Name": i.Name, "ComputerName": i.ComputerName, "LastPingDateTime": 1764590000, "AgentVersion": cmp.Or(i.AgentVersion, "3.3.3100.0"), "PlatformName": "Ubuntu", "PlatformVersion": "24.04"})
		}
		out := map[string]any{"InstanceInformationList": list}
		if next != "" {
			out["NextToken"] = next
		}
		return ok(out)
	case SendCommand:
		f.n++
		return ok(map[string]any{"Command": map[string]any{"CommandId": fmt.Sprintf("cmd-%04d", f.n), "DocumentName": str(in, "DocumentName"), "Status": "Pending"}})
	case GetCommandInvocation:
		return ok(map[string]any{"CommandId": str(in, "CommandId"), "InstanceId": str(in, "InstanceId"), "Status": "Success", "StandardOutputContent": "done"})
	case DeregisterManagedInstance:
		id := str(in, "InstanceId")
		if f.Instances[id] == nil {
			return fail("InvalidInstanceId", "Instance Id "+id+" is not valid")
		}
		delete(f.Instances, id)
		return ok(map[string]any{})
	case GetSecretValue:
		id := str(in, "SecretId")
		v, found := f.Secrets[id]
		if !found {
			return fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")
		}
		return ok(map[string]any{"ARN": id, "SecretString": v, "VersionId": f.currentVersion(id)})
	case PutSecretValue:
		// A version with stages but not AWSCURRENT waits to be made
		// current by UpdateSecretVersionStage, as in Secrets Manager.
		id := str(in, "SecretId")
		f.n++
		version := fmt.Sprintf("version-%d", f.n)
		stages, _ := in["VersionStages"].([]any)
		if len(stages) > 0 && !slices.Contains(stages, any("AWSCURRENT")) {
			if f.staged[id] == nil {
				f.staged[id] = map[string]string{}
			}
			f.staged[id][version] = str(in, "SecretString")
		} else {
			f.Secrets[id] = str(in, "SecretString")
			f.versions[id] = version
		}
		return ok(map[string]any{"ARN": id, "VersionId": version})
	case UpdateSecretVersionStage:
		id := str(in, "SecretId")
		if str(in, "VersionStage") != "AWSCURRENT" {
			return fail("InvalidParameterException", "the fake moves only AWSCURRENT")
		}
		if from := str(in, "RemoveFromVersionId"); from != f.currentVersion(id) {
			return fail("InvalidParameterException", fmt.Sprintf("Version stage AWSCURRENT not found in version %s", from))
		}
		to := str(in, "MoveToVersionId")
		v, found := f.staged[id][to]
		if !found {
			return fail("InvalidParameterException", "Not a valid version: "+to)
		}
		f.Secrets[id], f.versions[id] = v, to
		return ok(map[string]any{"ARN": id})
	case ListContainerInstances:
		cluster := str(in, "cluster")
		arns, found := f.ContainerInstances[cluster]
		if !found {
			return fail("ClusterNotFoundException", "Cluster not found.")
		}
		return f.ecsPage("containerInstanceArns", arns, in)
	case DescribeContainerInstances:
		cluster := str(in, "cluster")
		arns, found := f.ContainerInstances[cluster]
		if !found {
			return fail("ClusterNotFoundException", "Cluster not found.")
		}
		want, _ := in["containerInstances"].([]any)
		if len(want) > 100 {
			return fail("InvalidParameterException", "containerInstances can have at most 100 items.")
		}
		list, failures := []map[string]any{}, []map[string]any{}
		for _, w := range want {
			arn := fmt.Sprint(w)
			if !slices.Contains(arns, arn) {
				failures = append(failures, map[string]any{"arn": arn, "reason": "MISSING"})
				continue
			}
			list = append(list, map[string]any{"containerInstanceArn": arn, "ec2InstanceId": "mi-" + arn[len(arn)-17:],
				"agentConnected": !f.Disconnected[arn], "status": "ACTIVE", "runningTasksCount": 1, "pendingTasksCount": 0,
				"versionInfo": map[string]any{"agentVersion": "1.90.0"}})
		}
		return ok(map[string]any{"containerInstances": list, "failures": failures})
	case ListServices:
		cluster := str(in, "cluster")
		var arns []string
		for _, key := range slices.Sorted(maps.Keys(f.Services)) {
			if c, name, _ := strings.Cut(key, "/"); c == cluster {
				arns = append(arns, "arn:aws:ecs:eu-west-1:123456789012:service/"+cluster+"/"+name)
			}
		}
		return f.ecsPage("serviceArns", arns, in)
	case DescribeServices:
		cluster := str(in, "cluster")
		names, _ := in["services"].([]any)
		if len(names) > 10 {
			return fail("InvalidParameterException", "services can have at most 10 items.")
		}
		list, failures := []map[string]any{}, []map[string]any{}
		for _, n := range names {
			name := fmt.Sprint(n)
			name = name[strings.LastIndex(name, "/")+1:]
			svc := f.Services[ServiceKey(cluster, name)]
			if svc == nil {
				failures = append(failures, map[string]any{"arn": fmt.Sprint(n), "reason": "MISSING"})
				continue
			}
			status := svc.Status
			if status == "" {
				status = "ACTIVE"
			}
			list = append(list, map[string]any{"serviceName": name, "status": status, "launchType": "EXTERNAL", "taskDefinition": svc.TaskDefinition,
				"desiredCount": svc.Desired, "runningCount": svc.Running, "pendingCount": svc.Pending})
		}
		return ok(map[string]any{"services": list, "failures": failures})
	case UpdateService:
		svc := f.Services[ServiceKey(str(in, "cluster"), str(in, "service"))]
		if svc == nil {
			return fail("ServiceNotFoundException", "Service not found.")
		}
		if n, ok := in["desiredCount"].(float64); ok {
			svc.Desired = int(n)
		}
		return ok(map[string]any{"service": map[string]any{"serviceName": str(in, "service"), "desiredCount": svc.Desired}})
	case GetQueueAttributes:
		q := f.Queues[str(in, "QueueUrl")]
		if q == nil {
			return fail("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
		}
		return ok(map[string]any{"Attributes": map[string]string{
			"ApproximateNumberOfMessages": strconv.Itoa(q.Visible), "ApproximateNumberOfMessagesNotVisible": strconv.Itoa(q.InFlight)}})
	case DeregisterContainerInstance:
		cluster, arn := str(in, "cluster"), str(in, "containerInstance")
		arns, found := f.ContainerInstances[cluster]
		if !found {
			return fail("ClusterNotFoundException", "Cluster not found.")
		}
		i := slices.Index(arns, arn)
		if i < 0 {
			return fail("InvalidParameterException", "Container instance not found.")
		}
		f.ContainerInstances[cluster] = slices.Delete(arns, i, i+1)
		return ok(map[string]any{"containerInstance": map[string]any{"containerInstanceArn": arn, "status": "INACTIVE"}})
	}
	f.t.Errorf("fakeaws: unexpected call %q", target)
	return fail("UnknownOperationException", "unknown operation "+target)
}

// StackResource is one resource of a stack, as ListStackResources gives it.
type StackResource struct {
	Type, PhysicalID string
}

// stackName is the name of a stack id or name.
func stackName(stack string) string {
	if _, after, ok := strings.Cut(stack, ":stack/"); ok {
		name, _, _ := strings.Cut(after, "/")
		return name
	}
	return stack
}

// serveQuery answers CloudFormation's DescribeStacks and
// ListStackResources in the query protocol.
func (f *Fake) serveQuery(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action, stack := r.PostForm.Get("Action"), r.PostForm.Get("StackName")
	target := "cloudformation." + action
	f.Mu.Lock()
	f.requests[target] = append(f.requests[target], map[string]any{"StackName": stack})
	var rep Reply
	if q := f.script[target]; len(q) > 0 {
		rep, f.script[target] = q[0], q[1:]
	} else if res, found := f.StackResources[stackName(stack)]; action == "ListStackResources" && found {
		var b strings.Builder
		b.WriteString(`<ListStackResourcesResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><ListStackResourcesResult><StackResourceSummaries>`)
		for i, r := range res {
			var typ, id bytes.Buffer
			_ = xml.EscapeText(&typ, []byte(r.Type))
			_ = xml.EscapeText(&id, []byte(r.PhysicalID))
			fmt.Fprintf(&b, `<member><LogicalResourceId>R%d</LogicalResourceId><PhysicalResourceId>%s</PhysicalResourceId><ResourceType>%s</ResourceType>`+
				`<ResourceStatus>CREATE_COMPLETE</ResourceStatus><LastUpdatedTimestamp>2026-11-22T12:00:00Z</LastUpdatedTimestamp></member>`, i, id.String(), typ.String())
		}
		b.WriteString(`</StackResourceSummaries></ListStackResourcesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListStackResourcesResponse>`)
		rep = Reply{200, b.String()}
	} else if status, found := f.StackStatus[stack]; action == "DescribeStacks" && found {
		var name bytes.Buffer
		_ = xml.EscapeText(&name, []byte(stack))
		rep = Reply{200, `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>` +
			`<StackId>` + name.String() + `</StackId><StackName>S</StackName><StackStatus>` + status + `</StackStatus>` +
			`<CreationTime>2026-11-22T12:00:00Z</CreationTime></member></Stacks></DescribeStacksResult>` +
			`<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStacksResponse>`}
	} else {
		rep = QueryError("ValidationError", "Stack with id "+stack+" does not exist")
	}
	f.Mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(rep.Status)
	_, _ = io.WriteString(w, rep.Body)
}

// serveCBOR answers CloudWatch's GetMetricData in the rpc-v2-cbor protocol
// (the SDK's CloudWatch client speaks nothing else).
func (f *Fake) serveCBOR(w http.ResponseWriter, r *http.Request) {
	op := path.Base(r.URL.Path)
	target := "cloudwatch." + op
	raw, _ := io.ReadAll(r.Body)
	in, err := cbor.Decode(raw)
	f.Mu.Lock()
	f.requests[target] = append(f.requests[target], map[string]any{"cbor": fmt.Sprint(in)})
	var body cbor.Value
	status := 200
	if q := f.script[target]; len(q) > 0 {
		var rep Reply
		rep, f.script[target] = q[0], q[1:]
		status, body = rep.Status, cbor.Map{"__type": cbor.String(rep.Body), "message": cbor.String(rep.Body)}
	} else if op != "GetMetricData" || err != nil {
		status, body = 400, cbor.Map{"__type": cbor.String("InvalidAction"), "message": cbor.String("unsupported " + op)}
	} else {
		results := cbor.List{}
		queries, _ := in.(cbor.Map)["MetricDataQueries"].(cbor.List)
		for _, qv := range queries {
			qm, _ := qv.(cbor.Map)
			id, _ := qm["Id"].(cbor.String)
			queue := ""
			if stat, ok := qm["MetricStat"].(cbor.Map); ok {
				metric, _ := stat["Metric"].(cbor.Map)
				dims, _ := metric["Dimensions"].(cbor.List)
				for _, d := range dims {
					if dm, ok := d.(cbor.Map); ok && dm["Name"] == cbor.String("QueueName") {
						v, _ := dm["Value"].(cbor.String)
						queue = string(v)
					}
				}
			}
			res := cbor.Map{"Id": id, "Label": cbor.String("age"), "StatusCode": cbor.String("Complete"), "Timestamps": cbor.List{}, "Values": cbor.List{}}
			if age, found := f.OldestAge[queue]; found {
				res["Timestamps"] = cbor.List{&cbor.Tag{ID: 1, Value: cbor.Float64(float64(f.Now().Unix()))}}
				res["Values"] = cbor.List{cbor.Float64(age)}
			}
			results = append(results, res)
		}
		body = cbor.Map{"MetricDataResults": results, "Messages": cbor.List{}}
	}
	f.Mu.Unlock()
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(status)
	_, _ = w.Write(cbor.Encode(body))
}

// QueryError is an error answer in the query protocol.
func QueryError(code, msg string) Reply {
	var m bytes.Buffer
	_ = xml.EscapeText(&m, []byte(msg))
	return Reply{400, `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>` + code +
		`</Code><Message>` + m.String() + `</Message></Error><RequestId>r</RequestId></ErrorResponse>`}
}

// matches applies DescribeInstanceInformation's tag:<key> and ActivationIds filters.
func (f *Fake) matches(i *Instance, in map[string]any) bool {
	filters, _ := in["Filters"].([]any)
	for _, fl := range filters {
		m, _ := fl.(map[string]any)
		key := str(m, "Key")
		vs, _ := m["Values"].([]any)
		var values []string
		for _, v := range vs {
			values = append(values, fmt.Sprint(v))
		}
		switch {
		case strings.HasPrefix(key, "tag:"):
			v, has := i.Tags[strings.TrimPrefix(key, "tag:")]
			if !has || !slices.Contains(values, v) {
				return false
			}
		case key == "ActivationIds":
			if !slices.Contains(values, i.ActivationID) {
				return false
			}
		default:
			f.t.Errorf("fakeaws: filter %q not implemented", key)
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Config is an SDK configuration that sends every client to the fake, with
// test credentials and a retryer that tries 4 times without waiting.
func (f *Fake) Config() aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(f.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 4
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
}
