package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"
)

// props are the resource properties of Custom::SsmActivation, as the CDK
// construct constructs/activation writes them. CloudFormation passes every
// scalar as a string.
type props struct {
	IamRole             string
	RegistrationLimit   int32
	ExpiryDays          int
	DefaultInstanceName string
	Description         string
	Tags                []tag
	SecretArn           string
}

type tag struct{ Key, Value string }

// ignored properties do not describe the activation.
var ignored = []string{"ServiceToken"}

// parseProps reads and checks the properties; the error names every bad
// property, its value and what is allowed.
func parseProps(m map[string]any) (props, error) {
	var p props
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
		var n int
		var err error
		switch x := v.(type) {
		case string:
			n, err = strconv.Atoi(strings.TrimSpace(x))
		case float64:
			n = int(x)
			if float64(n) != x {
				err = errors.New("not whole")
			}
		default:
			err = errors.New("not a number")
		}
		if err != nil || n < lo || n > hi {
			bad("property %s is %v: must be a whole number from %d to %d", key, v, lo, hi)
		}
		return n
	}
	p.IamRole = str("IamRole", true)
	p.SecretArn = str("SecretArn", true)
	p.DefaultInstanceName = str("DefaultInstanceName", false)
	p.Description = str("Description", false)
	p.RegistrationLimit = int32(num("RegistrationLimit", 1, 1000))
	p.ExpiryDays = num("ExpiryDays", 1, 30)
	if p.IamRole == "" && m["IamRole"] != nil {
		bad("property IamRole is empty: must name the instance role")
	}
	if !strings.HasPrefix(p.SecretArn, "arn:") && m["SecretArn"] != nil {
		bad("property SecretArn is %q: must be the ARN of the code's Secrets Manager secret", p.SecretArn)
	}
	if raw, ok := m["Tags"]; ok && raw != nil {
		b, err := json.Marshal(raw)
		if err == nil {
			err = json.Unmarshal(b, &p.Tags)
		}
		if err != nil {
			bad(`property Tags is %v: must be a list of {"Key": "...", "Value": "..."}`, raw)
		}
	}
	return p, errors.Join(errs...)
}

// changed reports whether the properties that describe the activation differ.
func changed(old, new map[string]any) bool {
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
