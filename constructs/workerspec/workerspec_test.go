package workerspec

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

// Bad props are refused by New, before anything is made, naming each problem.
func TestNewRefusesBadProps(t *testing.T) {
	defer jsii.Close()
	for _, tc := range []struct {
		name  string
		props Props
		want  []string
	}{
		{"nothing", Props{}, []string{"Image is nil", "Queues is empty", "LogGroup is nil"}},
		{"cpu", Props{Cpu: 300}, []string{"Cpu is 300", "256, 512, 1024, 2048, 4096"}},
		{"memory", Props{MemoryMiB: 256}, []string{"MemoryMiB is 256", "from 512 to 30720"}},
		{"stop timeout", Props{StopTimeout: awscdk.Duration_Seconds(jsii.Number(121))}, []string{"StopTimeout is 121 s", "from 2 to 120 s"}},
		{"secret on a contract name", Props{Secrets: []Secret{{Env: "AWS_REGION", Parameter: "/x"}}}, []string{"workerspec: secret AWS_REGION", "contract"}},
		{"secret twice", Props{Secrets: []Secret{{Env: "A", Parameter: "/x"}, {Env: "A", Parameter: "/y"}}}, []string{"secret A: the variable is given twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nil, "Spec", tc.props)
			errcheck.Contains(t, err, tc.want...)
		})
	}
	p := Props{}.withDefaults()
	if p.Cpu != 256 || p.MemoryMiB != 512 || *p.StopTimeout.ToSeconds(nil) != 30 {
		t.Errorf("documented defaults are 256 cpu, 512 MiB, 30 s: %+v", p)
	}
	// A timeout set stays as given (a default must not overwrite it).
	if got := *(Props{StopTimeout: awscdk.Duration_Seconds(jsii.Number(90))}).withDefaults().StopTimeout.ToSeconds(nil); got != 90 {
		t.Errorf("StopTimeout 90 s became %v s", got)
	}
}
