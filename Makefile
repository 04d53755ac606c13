# eks-access-operator: build, generate, test.
# `make test` is everything CI runs; it builds the envtest binaries when they are absent.
# `make test-unit` runs the tests that need no control plane, in seconds.

IMG ?= eks-access-operator:dev
# The release: the chart's appVersion and the image dist/install.yaml and the chart name.
VERSION ?= 0.1.0
RELEASE_IMG ?= ghcr.io/eksaccess/eks-access-operator:v$(VERSION)
CHART := charts/eks-access-operator
BIN := $(CURDIR)/bin
K8S_BIN := $(BIN)/k8s
# The kubectl on PATH; only when there is none is one built from Go modules into bin/k8s.
KUBECTL ?= $(or $(shell command -v kubectl 2>/dev/null),$(K8S_BIN)/kubectl)
KUBECONFORM_VERSION := v0.8.0
CONTROLLER_TOOLS_VERSION := v0.23.0
# The version is in the file name, so a version bump rebuilds it.
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GO_TEST_FLAGS ?= -timeout 30m
# The flags the Dockerfile builds the shipped binary with, so that `make bench`
# measures the same binary: no build paths, no symbol table or DWARF (neither is
# loaded into memory; `go tool nm` needs OPERATOR_BUILD_FLAGS= to read the binary).
OPERATOR_BUILD_FLAGS ?= -trimpath -ldflags "-s -w"

.PHONY: all
all: build

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs and the manager's RBAC from the markers, and copy both into the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="{./api/...,./controllers/...}" output:crd:artifacts:config=config/crd/bases
	cp config/crd/bases/*.yaml $(CHART)/crds/
	cp config/rbac/role.yaml $(CHART)/files/manager-role.yaml

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="{./api/...,./controllers/...}"

.PHONY: docs
docs: manifests ## Generate the API reference docs/api.md from the CRDs.
	go run ./hack/apidocs -crds config/crd/bases -out docs/api.md

.PHONY: schemas
schemas: manifests ## Generate the CRDs' JSON Schemas for kubeconform and editors into schemas/ (GROUP/KIND_VERSION.json).
	go run ./hack/crdschemas -crds config/crd/bases -out schemas

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: test
test: generated-check fmt vet envtest-assets ## Check the generated files, then run every test against envtest and the EKS emulator.
	KUBEBUILDER_ASSETS=$(K8S_BIN) go test $(GO_TEST_FLAGS) ./...
	$(MAKE) generated-check-test
	$(MAKE) schema-check
	$(MAKE) emulator-cli-check
	$(MAKE) demo-check
	$(MAKE) bench-smoke
	$(MAKE) soak-short
	$(MAKE) fuzz

.PHONY: test-unit
test-unit: ## Run the tests that need no kube-apiserver (plan, decisions, parsers, steps, emulator): seconds, on a fresh clone.
	go test -short ./...

.PHONY: schema-check
schema-check: ## Check config/samples with kubeconform and the schemas in schemas/, and that a bad manifest is refused.
	KUBECONFORM="go run github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)" hack/schema-check.sh

.PHONY: emulator-cli-check
emulator-cli-check: ## Run the user guide's AWS CLI commands against the EKS emulator.
	hack/emulator-aws-cli.sh

# The targets that write the generated files (generated-check lists the files).
GENERATE_TARGETS := manifests generate docs schemas build-installer

.PHONY: generated-check
generated-check: $(CONTROLLER_GEN) ## Regenerate the generated files and fail, naming them, when any did not match its sources (make test runs it first).
	@hack/generated-check.sh $(MAKE) --no-print-directory $(GENERATE_TARGETS)

.PHONY: generated-check-test
generated-check-test: $(CONTROLLER_GEN) ## Show generated-check failing on a clone of HEAD with stale generated files, and passing without.
	CONTROLLER_GEN=$(CONTROLLER_GEN) GENERATE_TARGETS="$(GENERATE_TARGETS)" hack/generated-check-test.sh

.PHONY: verify
verify: generated-check fmt ## Regenerate everything and fail when the tree is not clean.
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "the tree is dirty after 'make manifests generate fmt docs schemas build-installer'; commit the regenerated files:"; \
		git status --porcelain; git --no-pager diff --stat; exit 1; \
	fi
	@echo "generated files are up to date"

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver, etcd and kubectl from Go modules into bin/k8s (once).
	@hack/envtest-assets.sh

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary into bin/.
	@echo "building the operator into bin/eks-access-operator"
	CGO_ENABLED=0 go build $(OPERATOR_BUILD_FLAGS) -o $(BIN)/eks-access-operator .

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the cluster of the current kubeconfig.
	go run . $(ARGS)

.PHONY: demo
demo: envtest-assets build demo-binary ## Run the operator locally: control plane, EKS emulator, samples; Ctrl-C stops it.
	$(BIN)/demo

.PHONY: demo-check
demo-check: envtest-assets build demo-binary ## Run the demo non-interactively; fail unless every sample is Ready and EKS matches.
	$(BIN)/demo --check

.PHONY: demo-binary
demo-binary:
	@echo "building the demo driver into bin/demo, and the kubectl plugin it runs into bin/kubectl-eksaccess"
	go build -o $(BIN)/demo ./hack/demo
	go build -o $(BIN)/kubectl-eksaccess ./cmd/kubectl-eksaccess

.PHONY: bench
bench: envtest-assets build bench-binary ## Benchmark 1,000 entries against EKS's rate limit (ARGS="--entries 10000" for more, ARGS="--accounts 10 --entries 100" for many accounts, ARGS=--events with events, ARGS=--expiry for 1,000 grants expiring at once, ARGS="--expiry --requests" with the grants made through approved requests, ARGS=--report for the access report over 50 clusters in 5 accounts).
	$(BIN)/bench $(ARGS)

.PHONY: bench-tenancy
bench-tenancy: envtest-assets ## One namespace's 1,000 objects in Conflict, another's new entries timed to Ready (BenchmarkConflictBacklog).
	KUBEBUILDER_ASSETS=$(K8S_BIN) go test -run '^$$' -bench BenchmarkConflictBacklog -benchtime 1x -timeout 30m ./controllers/

.PHONY: bench-smoke
bench-smoke: envtest-assets build bench-binary ## A 50-entry benchmark run, a two-account one, one with events, two of expiring grants (made directly and through requests) and one of the access report, so the harness does not rot.
	$(BIN)/bench --entries 50 --rate 50 --burst 50 --sweep-period 5s --steady 10s --heals 2 --round-qps 20 --smoke
	$(BIN)/bench --accounts 2 --entries 20 --rate 20 --burst 20 --smoke
	$(BIN)/bench --events --entries 40 --rate 50 --burst 50 --sweep-period 10s --events-sweep-period 10s --events-watched-sweep-period 10s \
		--steady 10s --heals 2 --loss-changes 0 --events-delay 1s --events-jitter 2s --smoke
	$(BIN)/bench --expiry --entries 50 --rate 20 --burst 20 --smoke
	$(BIN)/bench --expiry --requests --entries 30 --rate 20 --burst 20 --smoke
	$(BIN)/bench --report --clusters 4 --accounts 2 --entries 20 --rate 5 --burst 5 --smoke

.PHONY: bench-binary
bench-binary:
	@echo "building the benchmark driver into bin/bench"
	go build -o $(BIN)/bench ./hack/bench

# Each target runs a fixed number of inputs (about 10 s each on two cores), not a
# -fuzztime duration: in Go 1.26 a duration can end in a spurious "context
# deadline exceeded" failure when the deadline meets a worker mid-input
# (go.dev/issue/75804, fixed in Go 1.27). A count has no deadline to race.
# FUZZ_SCALE multiplies every count (FUZZ_SCALE=10 for a longer run).
FUZZ_SCALE ?= 1
FUZZ_TARGETS := ./internal/plan:FuzzComputePlan:150000 ./internal/awsarn:FuzzDefaultUsername:150000 \
	./internal/awsarn:FuzzParsePrincipal:150000 ./internal/awsarn:FuzzParsePolicy:200000 \
	./internal/onboard:FuzzParsePrincipal:15000 ./internal/onboard:FuzzUsername:15000 \
	./internal/onboard:FuzzNames:20000 ./internal/onboard:FuzzMigrate:10000

.PHONY: fuzz
fuzz: ## Fuzz the plan and the ARN, username and name parsing, a fixed number of inputs each (times FUZZ_SCALE), a failing input minimized for at most 10s (the seeds also run in every go test).
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; n=$$(( $${rest#*:} * $(FUZZ_SCALE) )); \
		echo "fuzzing $$name in $$pkg with $$n inputs"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $${n}x -fuzzminimizetime 10s -timeout 10m $$pkg || exit 1; \
	done

.PHONY: soak
soak: envtest-assets build soak-binary ## Soak: random changes to 200 objects for 4 minutes under EKS faults, operator kills and an API server restart.
	$(BIN)/soak $(ARGS)

.PHONY: soak-short
soak-short: envtest-assets build soak-binary ## The one-minute soak that make test runs.
	$(BIN)/soak --short

.PHONY: soak-binary
soak-binary:
	@echo "building the soak driver into bin/soak"
	go build -o $(BIN)/soak ./hack/soak

.PHONY: emulator
emulator: ## Run the EKS emulator on 127.0.0.1:8686 (a test tool; see --help).
	go run ./hack/eks-emulator $(ARGS)

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the container image IMG.
	docker push $(IMG)

.PHONY: build-installer
build-installer: manifests ## Write dist/install.yaml: the CRDs and the operator of config/default, image RELEASE_IMG.
	go run ./hack/kustomize -image $(RELEASE_IMG) -o dist/install.yaml config/default

##@ Deployment

.PHONY: install
install: manifests $(KUBECTL) ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: manifests $(KUBECTL) ## Remove the CRDs from the cluster of the current kubeconfig.
	$(KUBECTL) delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests $(KUBECTL) ## Deploy the operator, image IMG, to the cluster of the current kubeconfig.
	go run ./hack/kustomize -image $(IMG) config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: $(KUBECTL) ## Remove the operator from the cluster of the current kubeconfig.
	go run ./hack/kustomize config/default | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

# Only when no kubectl is on PATH.
$(K8S_BIN)/kubectl:
	@hack/envtest-assets.sh kubectl

$(CONTROLLER_GEN):
	@echo "building controller-gen $(CONTROLLER_TOOLS_VERSION) into bin/"
	GOBIN=$(BIN)/.controller-gen go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(BIN)/.controller-gen/controller-gen $@ && rmdir $(BIN)/.controller-gen

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
