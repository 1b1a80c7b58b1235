package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"

	"github.com/ecs-anywhere-stretched/stretched/internal/cr"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Settings describe the activations of a site: the properties of
// Custom::SsmActivation as constructs/activation writes them, which the
// renewer receives too. CloudFormation passes every scalar as a string.
type Settings struct {
	IamRole             string
	RegistrationLimit   int32
	ExpiryDays          int
	DefaultInstanceName string
	Description         string
	Tags                []Tag
	SecretArn           string
}

// Tag is one tag of an activation.
type Tag struct{ Key, Value string }

// The tag keys a site's activations carry beside the stack tag: the site's
// name and its cluster's.
const (
	TagSite    = "site"
	TagCluster = "cluster"
)

// Tag is the value of the tag key, "" when s has none.
func (s Settings) Tag(key string) string {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// ignored properties do not describe the activation.
var ignored = []string{cr.PropServiceToken}

// ParseSettings reads and checks the properties; the error names every bad
// property, its value and what is allowed.
func ParseSettings(m map[string]any) (Settings, error) {
	var p Settings
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	str := func(key string, required bool) string {
		v, ok := m[key]
		if !ok || v == nil {
			if required {
				bad("property %s is missing: the activation construct always sets it; redeploy with the construct", key)
			}
			return ""
		}
		s, ok := v.(string)
		if !ok {
			bad("property %s is %v (%T): must be a string", key, v, v)
		}
		return s
	}
	num := func(key string, lo, hi int) int {
		v, ok := m[key]
		if !ok || v == nil {
			bad("property %s is missing: must be a whole number from %d to %d", key, lo, hi)
			return 0
		}
		n, ok := wholeNumber(v)
		if !ok || n < lo || n > hi {
			bad("property %s is %v: must be a whole number from %d to %d", key, v, lo, hi)
		}
		return n
	}
	p.IamRole = str(PropIamRole, true)
	p.SecretArn = str(PropSecretArn, true)
	p.DefaultInstanceName = str(PropDefaultInstanceName, false)
	p.Description = str(PropDescription, false)
	p.RegistrationLimit = int32(num(PropRegistrationLimit, MinRegistrationLimit, MaxRegistrationLimit))
	p.ExpiryDays = num(PropExpiryDays, MinExpiryDays, MaxExpiryDays)
	if p.IamRole == "" && m[PropIamRole] != nil {
		bad("property %s is empty: must name the instance role", PropIamRole)
	}
	if !strings.HasPrefix(p.SecretArn, "arn:") && m[PropSecretArn] != nil {
		bad("property %s is %q: must be the ARN of the activation's Secrets Manager secret", PropSecretArn, p.SecretArn)
	}
	if raw, ok := m[PropTags]; ok && raw != nil {
		b, err := json.Marshal(raw)
		if err == nil {
			err = json.Unmarshal(b, &p.Tags)
		}
		if err != nil {
			bad(`property %s is %v: must be a list of {"Key": "...", "Value": "..."}`, PropTags, raw)
		}
	}
	return p, errors.Join(errs...)
}

// ParseSettingsJSON reads the settings from their JSON text (the renewer's
// environment).
func ParseSettingsJSON(raw string) (Settings, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return Settings{}, fmt.Errorf("activation settings are not a JSON object (%v): redeploy the site's stack", err)
	}
	return ParseSettings(m)
}

// wholeNumber accepts a string holding a whole number or a JSON number.
func wholeNumber(v any) (int, bool) {
	switch x := v.(type) {
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	case float64:
		n := int(x)
		return n, float64(n) == x
	}
	return 0, false
}

// Changed reports whether the properties that describe the activation differ.
func Changed(old, new map[string]any) bool {
	strip := func(m map[string]any) map[string]any {
		c := maps.Clone(m)
		for _, k := range ignored {
			delete(c, k)
		}
		if c == nil {
			c = map[string]any{}
		}
		return c
	}
	return !reflect.DeepEqual(strip(old), strip(new))
}

// StackTag is the value of the activation's stackscontract.StackTagKey tag: the site
// stack it belongs to ("" when it has none).
func (s Settings) StackTag() string {
	for _, t := range s.Tags {
		if t.Key == stackscontract.StackTagKey {
			return t.Value
		}
	}
	return ""
}

// RecommendedAgentParameter is AWS's public parameter whose JSON value
// names the ECS-optimized AMI's ECS agent (ecs_agent_version): fleet node
// update-agents brings nodes to it unless given a version, and the site's
// NodeOperatorPolicy may read it.
const RecommendedAgentParameter = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended"
