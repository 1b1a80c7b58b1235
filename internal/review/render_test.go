package review

import "testing"

func TestARNWords(t *testing.T) {
	for in, want := range map[string]string{
		"arn:<partition>:ecs:<region>:<account>:cluster/*":                 "every ecs cluster of the account in the region",
		"arn:<partition>:secretsmanager:<region>:<account>:secret:*":       "every secretsmanager secret of the account in the region",
		"arn:<partition>:iam::<account>:role/*":                            "every iam role of the account",
		"arn:<partition>:ssm:*:*:managed-instance/*":                       "every ssm managed-instance of any account, in any region",
		"arn:<partition>:sqs:<region>:<account>:*":                         "every sqs resource of the account in the region",
		"arn:<partition>:cloudformation:<region>:<account>:stack/App-*/*":  "arn:<partition>:cloudformation:<region>:<account>:stack/App-*/*",
		"arn:<partition>:ssm:<region>:<account>:parameter/EcsWorker/sites": "arn:<partition>:ssm:<region>:<account>:parameter/EcsWorker/sites",
		"*":                          "*",
		"the region's key (KMS key)": "the region's key (KMS key)",
	} {
		if got := ARNWords(in); got != want {
			t.Errorf("ARNWords(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWords(t *testing.T) {
	for in, want := range map[string]string{
		"WorkQueueDeadLetterQueueF71CA21F":                     "work queue dead letter queue",
		"WorkerSpecTaskRole1B79B8B7":                           "worker spec task role",
		"WorkQueueEcsWorkerRegionalEntryTopicDB1B5B8D895002F0": "work queue ecs worker regional entry topic",
		"KMSKeyForEFS12345678":                                 "kms key for efs",
	} {
		if got := words(in); got != want {
			t.Errorf("words(%q) = %q, want %q", in, got, want)
		}
	}
}

// A bucket's encryption in words: SSE-KMS says when the bucket names its key.
func TestBucketEncryption(t *testing.T) {
	kms := func(key bool) map[string]any {
		d := map[string]any{"SSEAlgorithm": "aws:kms"}
		if key {
			d["KMSMasterKeyID"] = map[string]any{"Fn::GetAtt": []any{"Key", "Arn"}}
		}
		return map[string]any{"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{"ServerSideEncryptionByDefault": d}}}}
	}
	for _, tc := range []struct {
		props map[string]any
		want  string
	}{
		{map[string]any{}, "SSE-S3 (S3 default)"},
		{kms(false), "SSE-KMS"},
		{kms(true), "SSE-KMS with its key"},
	} {
		if got, _ := dataStores["AWS::S3::Bucket"](nil, "S", tc.props); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.props, got, tc.want)
		}
	}
}
