// Package upgrade prepares a fleet deployed by the version before the
// fleet-wide functions for the deploy that moves it to them
// (`fleet prepare-upgrade`, docs/operations.md "Upgrading to the fleet-wide
// functions").
//
// Two things stop CloudFormation from updating such a fleet in place:
//
//   - A site's custom resources were answered by the site's own functions.
//     CloudFormation refuses to change a custom resource's ServiceToken, so
//     this version gives the fleet-answered resources new logical ids; the
//     update then removes the old ones, and CloudFormation would send each a
//     Delete through the old function, whose activation handler deletes the
//     site's recorded and tagged activations, the new one included.
//     Prepare sets DeletionPolicy Retain on them: CloudFormation removes a
//     retained resource without calling its provider.
//   - The old site stacks import values (the site queues' ARNs and URLs,
//     the alerts topic, the worker's roles) that the new regional stack no
//     longer exports, and CloudFormation refuses to remove an export another
//     stack imports, whichever stack is deployed first. Prepare replaces
//     each Fn::ImportValue with the value it resolves to now (the documented
//     way to remove a cross-stack reference): the resources do not change,
//     the stack no longer holds the export.
//
// Both changes leave every resource as it is; the stack update that applies
// them changes only the template CloudFormation keeps.
package upgrade

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	activationcontract "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	sitenodescontract "github.com/ecs-anywhere-stretched/stretched/constructs/sitenodes/contract"
	taskcountcontract "github.com/ecs-anywhere-stretched/stretched/constructs/taskcount/contract"
)

// OldCustomResources are the resource types a site's own functions answered
// before the fleet-wide functions.
var OldCustomResources = []string{activationcontract.ResourceType, sitenodescontract.ResourceType, taskcountcontract.ResourceType}

// Prepared is a site template made ready for the upgrade.
type Prepared struct {
	// Template is the template to update the stack with (JSON).
	Template []byte
	// Retained are the logical ids of the custom resources now retained.
	Retained []string
	// Imports are the export names whose imports were replaced by values.
	Imports []string
}

// Changed tells whether the template needs an update.
func (p Prepared) Changed() bool { return len(p.Retained) > 0 }

// Prepare reads a deployed site template and returns it with its old custom
// resources retained and its imports resolved from exports (export name to
// value, as ListExports gives them). A template with no custom resource
// answered by a function of its own stack is of this version already:
// Prepare changes nothing in it (Changed is false), so running it again, or
// on a new site, does no harm.
func Prepare(template []byte, exports map[string]string) (Prepared, error) {
	var t map[string]any
	dec := json.NewDecoder(bytes.NewReader(template))
	dec.UseNumber() // numbers come back as they were written
	if err := dec.Decode(&t); err != nil {
		return Prepared{}, fmt.Errorf("the template is not JSON (%v): templates this app deployed are; was the stack changed by hand?", err)
	}
	resources, _ := t["Resources"].(map[string]any)
	var p Prepared
	for id, raw := range resources {
		r, _ := raw.(map[string]any)
		if r == nil || !slices.Contains(OldCustomResources, fmt.Sprint(r["Type"])) || !answeredLocally(r, resources) {
			continue
		}
		if r["DeletionPolicy"] == "Retain" && r["UpdateReplacePolicy"] == "Retain" {
			continue // prepared before
		}
		r["DeletionPolicy"], r["UpdateReplacePolicy"] = "Retain", "Retain"
		p.Retained = append(p.Retained, id)
	}
	sort.Strings(p.Retained)
	if !p.Changed() {
		p.Template = template
		return p, nil
	}
	imports, err := resolveImports(t, exports)
	if err != nil {
		return Prepared{}, err
	}
	p.Imports = imports
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		return Prepared{}, fmt.Errorf("write the prepared template: %w", err)
	}
	p.Template = bytes.TrimSpace(out.Bytes())
	return p, nil
}

// answeredLocally tells whether a custom resource's ServiceToken is the ARN
// of a resource of the same template ({"Fn::GetAtt": [id, "Arn"]}): the
// per-site function of the earlier version. The fleet-answered resources
// of this version import the regional function's ARN.
func answeredLocally(r map[string]any, resources map[string]any) bool {
	props, _ := r["Properties"].(map[string]any)
	token, _ := props["ServiceToken"].(map[string]any)
	att, _ := token["Fn::GetAtt"].([]any)
	if len(att) != 2 {
		return false
	}
	id, _ := att[0].(string)
	_, local := resources[id]
	return local
}

// resolveImports replaces, in t, every {"Fn::ImportValue": name} by the
// export's value and returns the names it replaced; an import of a name no
// export has, or of a computed name, is an error.
func resolveImports(t map[string]any, exports map[string]string) ([]string, error) {
	seen := map[string]bool{}
	var errs []error
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if imp, ok := x["Fn::ImportValue"]; ok && len(x) == 1 {
				name, isString := imp.(string)
				if !isString {
					errs = append(errs, fmt.Errorf("an Fn::ImportValue of a computed name (%v): resolve it by hand, then run this again", imp))
					return x
				}
				value, found := exports[name]
				if !found {
					if !seen[name] {
						errs = append(errs, fmt.Errorf("the stack imports %q, which no stack of this account and region exports: is the regional stack deployed (by the version the site was deployed with)?", name))
					}
					seen[name] = true
					return x
				}
				seen[name] = true
				return value
			}
			for k, e := range x {
				x[k] = walk(e)
			}
			return x
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
			return x
		default:
			return v
		}
	}
	walk(t)
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, errors.Join(errs...)
}
