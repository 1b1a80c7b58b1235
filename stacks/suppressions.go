package stacks

import (
	"github.com/ecs-anywhere-stretched/stretched/config"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppressAnywhere records, with a true reason, the cdk-nag findings an
// anywhere stack accepts beyond those its constructs record themselves.
func suppressAnywhere(a *Anywhere, site config.Site) {
	if !site.ContainerInsights {
		cdknag.NagSuppressions_AddResourceSuppressions(a.Cluster, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-ECS4"),
			Reason: jsii.String("Container Insights is a site setting (containerInsights), off by default: at 16 or more custom metrics a cluster it would cost a fleet several USD a site a month; the site agent's fleet metrics and alarms cover the site's nodes and tasks"),
		}}, jsii.Bool(true))
	}
}
