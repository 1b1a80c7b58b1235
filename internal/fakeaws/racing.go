package fakeaws

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsClient is what a record writer calls of Secrets Manager (ssmact's
// SecretsAPI); *secretsmanager.Client satisfies it.
type SecretsClient interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

// RacingSecrets runs Other once, right before the first PutSecretValue
// through it: another writer (a deploy, a renewal) writing the record at the
// same moment.
type RacingSecrets struct {
	SecretsClient
	Other func()
	once  sync.Once
}

// PutSecretValue lets Other write first, then writes.
func (r *RacingSecrets) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	r.once.Do(r.Other)
	return r.SecretsClient.PutSecretValue(ctx, in, opts...)
}
