# Everything runs with the project's pinned Node 24 and aws-cdk CLI first on PATH,
# so neither the machine's Node nor a global cdk is used.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_EC2_METADATA_DISABLED := true

NPM_STAMP := node_modules/.installed
CDK := cdk
# Extra arguments for cdk, e.g. make deploy CDK_ARGS="-c imageTag=v1.0.0"
CDK_ARGS ?=
# Image tag for make image-push (immutable tags: use a new one per build).
TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || date +%Y%m%d%H%M%S)

.PHONY: help tools synth review review-report test vet fmt-check golden diff deploy destroy image-push status pipeline clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(NPM_STAMP): package.json package-lock.json
	npm ci --omit=peer --no-audit --no-fund --loglevel=error
	touch $@

tools: $(NPM_STAMP) ## install the pinned Node 24, aws-cdk CLI, cfn-guard rules and fauxqs

synth: $(NPM_STAMP) ## synthesize every stack into cdk.out/ (no AWS credentials needed)
	$(CDK) synth --quiet $(CDK_ARGS)
	@ls cdk.out/*.template.json

# The review: the working tree synthesized afresh (its cdk.json, CDK_ARGS)
# into a temporary folder; with BASE=<git ref>, the base commit too, in a
# temporary worktree with its own cdk.json and the same CDK_ARGS, and what
# changed since it comes first. The report's header says which commits and
# arguments; a failed synth leaves no report (the old one is removed first)
# and nothing of one run is read by the next.
BASE ?=
review: $(NPM_STAMP) ## write cdk.out/review.md: every stack's resources, roles and policies in words, checker exceptions; BASE=<git ref> puts what changed first, risks named
	@mkdir -p cdk.out; rm -f cdk.out/review.md; \
	work=$$(mktemp -d); trap 'git worktree remove --force "$$work/src" >/dev/null 2>&1; rm -rf "$$work"' EXIT; \
	head=$$(git rev-parse --short HEAD 2>/dev/null || echo "no commit"); \
	if [ -n "$$(git status --porcelain 2>/dev/null)" ]; then head="$$head with uncommitted changes"; fi; \
	$(CDK) synth --quiet -o "$$work/head" $(CDK_ARGS) || { echo "review: the working tree does not synthesize: no report written" >&2; exit 1; }; \
	set -- -synthesized "head: $$head, its cdk.json" -synthesized "extra arguments (both sides): $(if $(CDK_ARGS),$(CDK_ARGS),none)"; \
	if [ -n "$(BASE)" ]; then \
	  sha=$$(git rev-parse --short "$(BASE)") || { echo "review: BASE=$(BASE) is not a commit here: no report written" >&2; exit 1; }; \
	  git worktree add --detach "$$work/src" "$(BASE)" >/dev/null; \
	  ln -s "$(CURDIR)/node_modules" "$$work/src/node_modules"; \
	  (cd "$$work/src" && $(CDK) synth --quiet -o "$$work/base" $(CDK_ARGS)) || { echo "review: BASE=$(BASE) ($$sha) does not synthesize: no report written" >&2; exit 1; }; \
	  set -- "$$@" -synthesized "base: $(BASE) = $$sha, its cdk.json" -base "$$work/base" -base-name "$(BASE) ($$sha)"; \
	fi; \
	go run ./cmd/review "$$@" -o cdk.out/review.md "$$work/head"

review-report: ## write cdk.out/review.md from cdk.out as it is (no synth; the pipeline runs it after make synth)
	go run ./cmd/review -o cdk.out/review.md cdk.out

# The Go files are found without git: a pipeline's source artifact has no .git.
GO_FILES = $(shell find . -name '*.go' -not -path './node_modules/*' -not -path './cdk.out/*' -not -path './.git/*')

vet:
	@unformatted="$$(gofmt -l $(GO_FILES) </dev/null)"; test -z "$$unformatted" || { echo "gofmt needed:"; echo "$$unformatted"; exit 1; }
	go vet ./...

test: $(NPM_STAMP) vet ## run every test: config, constructs, golden templates, cdk-nag, cfn-lint, cfn-guard, handler, worker
	# -p 4: four packages at once on two cores; the worker's and the moto tests mostly wait.
	go test -count=1 -vet=off -p 4 -parallel 4 -timeout 30m ./... # vet ran above, with every analyzer

golden: $(NPM_STAMP) ## rewrite the golden templates in test/testdata after a deliberate change
	go test -count=1 ./test -run "TestGolden|TestInventory|TestEachSettingAlone|TestReviewOfPlantedChanges" -update

diff: $(NPM_STAMP) ## compare the stacks with what is deployed
	$(CDK) diff $(CDK_ARGS)

# Stacks cdk deploys side by side; it keeps the order of their dependencies
# (the region before every site).
DEPLOY_CONCURRENCY ?= 10

deploy: $(NPM_STAMP) ## deploy every stack (regional first, then the sites DEPLOY_CONCURRENCY at a time)
	$(CDK) deploy --all --concurrency $(DEPLOY_CONCURRENCY) $(CDK_ARGS)

destroy: $(NPM_STAMP) ## delete every stack (sites first)
	$(CDK) destroy --all $(CDK_ARGS)

image-push: ## build the multi-arch worker image and push it to the regional ECR repository (needs Docker buildx and AWS credentials)
	@repo=$$(aws cloudformation describe-stacks --stack-name $${STACK:-EcsWorker-Regional} --query "Stacks[0].Outputs[?OutputKey=='RepositoryUri'].OutputValue" --output text); \
	registry=$${repo%%/*}; region=$$(echo $$registry | cut -d. -f4); \
	aws ecr get-login-password --region $$region | docker login --username AWS --password-stdin $$registry; \
	docker buildx build --platform linux/amd64,linux/arm64 --provenance=false --sbom=false -f worker/Dockerfile -t $$repo:$(TAG) --push . ; \
	echo "pushed $$repo:$(TAG); deploy it with: make deploy CDK_ARGS='-c imageTag=$(TAG)'"

pipeline: $(NPM_STAMP) ## deploy the pipeline stack once, from a workstation (needs "pipeline", "account" and "region" in cdk.json)
	$(CDK) deploy '*-Pipeline' $(CDK_ARGS)

# Arguments for make status, e.g. make status STATUS_ARGS="--prefix Prod --json"
STATUS_ARGS ?=

status: ## is the deployed fleet healthy? (queue, services, nodes, activations; exit 1 when not; needs AWS credentials)
	go run ./cmd/fleet status $(STATUS_ARGS)

clean: ## remove build output (not the installed tools)
	rm -rf cdk.out
