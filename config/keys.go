package config

import (
	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
)

// Context keys. They are API: users put them in cdk.json or pass them with -c.
const (
	KeyAccount                  = "account"
	KeyRegion                   = "region"
	KeyStackPrefix              = "stackPrefix"
	KeyImageTag                 = "imageTag"
	KeyImageURI                 = "imageUri"
	KeyMaxReceiveCount          = "maxReceiveCount"
	KeyVisibilityTimeoutSeconds = "visibilityTimeoutSeconds"
	KeyLogRetentionDays         = "logRetentionDays"
	KeyNatGateways              = "natGateways"
	KeyMinTasks                 = "minTasks"
	KeyMaxTasks                 = "maxTasks"
	KeyRegionalScaling          = "regionalScaling"
	KeyWork                     = "work"
	KeyEntryTopics              = "entryTopics"
	KeyBurstAgeSeconds          = "burstAgeSeconds"
	KeyAlarmEmail               = "alarmEmail"
	KeyAlarmMessageAgeSeconds   = "alarmMessageAgeSeconds"
	KeyEcrMaxImages             = "ecrMaxImages"
	KeyIamRolesQuota            = "iamRolesQuota"
	KeyPermissionsBoundary      = "permissionsBoundary"
	KeySites                    = "sites"
	KeyWorkerSecrets            = "workerSecrets"
	KeyPipeline                 = "pipeline"
	KeyCells                    = "cells"
	KeyNodeTier                 = "nodeTier"

	// keyDesiredCount was replaced by minTasks and maxTasks.
	keyDesiredCount = "desiredCount"
)

// Keys lists every context key the app reads, in the order of the
// configuration table.
var Keys = []string{KeyAccount, KeyRegion, KeyStackPrefix, KeyImageTag, KeyImageURI, KeyMaxReceiveCount,
	KeyVisibilityTimeoutSeconds, KeyLogRetentionDays, KeyNatGateways, KeyMinTasks, KeyMaxTasks, KeyRegionalScaling,
	KeyWork, KeyEntryTopics, KeyBurstAgeSeconds, KeyAlarmEmail, KeyAlarmMessageAgeSeconds, KeyEcrMaxImages, KeyIamRolesQuota, KeyPermissionsBoundary,
	KeyNodeTier, KeySites, KeyWorkerSecrets, KeyPipeline, KeyCells}

// Regional scaling modes (regionalScaling).
const (
	// ScalingDepth scales the Fargate service on the queue's visible messages.
	ScalingDepth = "depth"
	// ScalingBurst scales it on the age of the oldest message, from 0 tasks:
	// the sites do the work and the region helps when they fall behind.
	ScalingBurst = "burst"
)

// How work reaches the locations (work).
const (
	// WorkRouted gives the region and every site a queue of their own; a
	// producer names the location with the message attribute "location"
	// (the shipped worker's data is local to its location).
	WorkRouted = routercontract.WorkRouted
	// WorkShared gives every location one queue: for a worker that needs no
	// local data (it reads its input from the message or from S3).
	WorkShared = routercontract.WorkShared
	// RegionLocation is the location name of the region's worker; no site
	// may take it.
	RegionLocation = routercontract.RegionLocation
)
