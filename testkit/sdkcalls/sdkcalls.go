// Package sdkcalls lists the AWS SDK calls a Go value can make: the
// methods of every interface it holds whose input is an AWS SDK for Go v2
// service type, as "service:Operation". The permission simulation grants
// each of them from the synthesized policies; a new call fails it until
// the policy allows it.
package sdkcalls

import (
	"reflect"
	"sort"
	"strings"
)

// Of lists the AWS calls a handler or command makes, from its own types: every
// method of the SDK client interfaces it holds, as IAM actions. A new call
// in a handler is a new edge here, so it fails until it is granted.
func Of(v any) []string {
	seen := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			if t.PkgPath() != "" && !strings.HasPrefix(t.PkgPath(), "github.com/ecs-anywhere-stretched/") { // an unnamed struct has no package
				return
			}
			for i := range t.NumField() {
				walk(t.Field(i).Type)
			}
		case reflect.Interface:
			for i := range t.NumMethod() {
				m := t.Method(i)
				if m.Type.NumIn() < 2 {
					continue
				}
				in := m.Type.In(1)
				for in.Kind() == reflect.Pointer {
					in = in.Elem()
				}
				const sdk = "github.com/aws/aws-sdk-go-v2/service/"
				if strings.HasPrefix(in.PkgPath(), sdk) {
					seen[strings.TrimPrefix(in.PkgPath(), sdk)+":"+m.Name] = true
				}
			}
		}
	}
	walk(reflect.TypeOf(v))
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
