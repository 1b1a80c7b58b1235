package config

import (
	"cmp"

	queuescalingcontract "github.com/ecs-anywhere-stretched/stretched/constructs/queuescaling/contract"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Defaults of the settings; the configuration table (docs/configuration.md)
// is generated from them.
const (
	DefaultStackPrefix              = stackscontract.DefaultStackPrefix
	DefaultMaxReceiveCount          = 5
	DefaultVisibilityTimeoutSeconds = 60
	DefaultLogRetentionDays         = 365
	DefaultNatGateways              = 0
	DefaultMinTasks                 = 1
	DefaultBurstMinTasks            = 0
	DefaultMaxTasks                 = 10
	DefaultRegionalScaling          = ScalingDepth
	DefaultWork                     = WorkRouted
	DefaultBurstAgeSeconds          = queuescalingcontract.DefaultBurstAgeSeconds
	DefaultAlarmMessageAgeSeconds   = 900
	DefaultEcrMaxImages             = 20
	// DefaultIamRolesQuota is IAM's default roles per account.
	DefaultIamRolesQuota = 1000
	// DefaultEntryTopics routes up to route.MaxLocationsPerTopic locations.
	DefaultEntryTopics = 1
	DefaultSiteName    = "onprem"
	DefaultClusterName = "ecsAnywhereCluster"
	DefaultBranch      = "main"
	// DefaultWaveSize is the sites per pipeline wave: 2 actions each, 40 of
	// CodePipeline's 50 actions per stage.
	DefaultWaveSize = 20
	// MaxWaveSize leaves room in the last wave's stage for the step after
	// the sites: 2 × 24 + 1 = 49 actions.
	MaxWaveSize = 24
)

// withDefaults is the one place a default is applied: every setting the
// user left out gets its default here, and nowhere else.
func withDefaults(in input) Config {
	c := Config{
		Account:                  str(in.Account, ""),
		Region:                   str(in.Region, ""),
		StackPrefix:              str(in.StackPrefix, DefaultStackPrefix),
		ImageTag:                 str(in.ImageTag, ""),
		ImageURI:                 str(in.ImageURI, ""),
		MaxReceiveCount:          num(in.MaxReceiveCount, DefaultMaxReceiveCount),
		VisibilityTimeoutSeconds: num(in.VisibilityTimeoutSeconds, DefaultVisibilityTimeoutSeconds),
		LogRetentionDays:         num(in.LogRetentionDays, DefaultLogRetentionDays),
		NatGateways:              num(in.NatGateways, DefaultNatGateways),
		RegionalScaling:          str(in.RegionalScaling, DefaultRegionalScaling),
		Work:                     str(in.Work, DefaultWork),
		BurstAgeSeconds:          num(in.BurstAgeSeconds, DefaultBurstAgeSeconds),
		AlarmEmail:               str(in.AlarmEmail, ""),
		AlarmMessageAgeSeconds:   num(in.AlarmMessageAgeSeconds, DefaultAlarmMessageAgeSeconds),
		EcrMaxImages:             num(in.EcrMaxImages, DefaultEcrMaxImages),
		IamRolesQuota:            num(in.IamRolesQuota, DefaultIamRolesQuota),
		EntryTopics:              num(in.EntryTopics, DefaultEntryTopics),
		PermissionsBoundary:      str(in.PermissionsBoundary, ""),
		MaxTasks:                 num(in.MaxTasks, DefaultMaxTasks),
		WorkerSecrets:            in.WorkerSecrets,
		NodeTier:                 str(in.NodeTier, DefaultNodeTier),
	}
	if in.Cells != nil {
		c.Cells = cellsWithDefaults(in.Cells, c.NodeTier)
	}
	minTasks := DefaultMinTasks
	if c.RegionalScaling == ScalingBurst {
		minTasks = DefaultBurstMinTasks // burst scaling starts from 0 tasks
	}
	c.MinTasks = num(in.MinTasks, minTasks)

	sites := in.Sites
	if sites == nil {
		sites = []siteInput{{Name: DefaultSiteName}}
	}
	for _, s := range sites {
		cluster := DefaultClusterName
		if len(sites) > 1 {
			cluster = DefaultClusterName + "-" + s.Name
		}
		c.Sites = append(c.Sites, Site{
			Name:                s.Name,
			Cell:                s.Cell,
			ExpectedNodes:       num(s.ExpectedNodes, DefaultExpectedNodes),
			ClusterName:         cmp.Or(s.ClusterName, cluster),
			InstanceName:        cmp.Or(s.InstanceName, s.Name),
			PermissionsBoundary: cmp.Or(s.PermissionsBoundary, c.PermissionsBoundary),
			InstanceRoleArn:     s.InstanceRoleArn,
			KeepNodesOnDestroy:  s.KeepNodesOnDestroy,
			ContainerInsights:   s.ContainerInsights,
			Tasks:               s.TasksInput.WithDefaults(),
			Activation:          s.ActivationInput.WithDefaults(),
			Fleet:               s.FleetInput.WithDefaults(),
		})
	}

	if in.Pipeline != nil {
		p := *in.Pipeline
		p.Branch = cmp.Or(p.Branch, DefaultBranch)
		p.WaveSize = cmp.Or(p.WaveSize, DefaultWaveSize)
		p.Rings = ringsWithDefaults(p.Rings)
		c.Pipeline = &p
	}
	return c
}

func str(p *string, def string) string {
	if p == nil {
		return def
	}
	return cmp.Or(*p, def)
}

func num(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}
