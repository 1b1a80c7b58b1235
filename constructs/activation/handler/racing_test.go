package handler

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// RacingSecrets runs Other once, right before the first PutSecretValue
// through it: another writer (a deploy, a renewal) writing the record at the
// same moment.
type RacingSecrets struct {
	SecretsAPI
	Other func()
	once  sync.Once
}

// PutSecretValue lets Other write first, then writes.
func (r *RacingSecrets) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	r.once.Do(r.Other)
	return r.SecretsAPI.PutSecretValue(ctx, in, opts...)
}
