# Scrutin: a Kubernetes operator that provisions isolated election instances.
# `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

KUBE_VERSION ?= v1.37.2
CONTROLLER_TOOLS_VERSION ?= v0.23.0

ROOT := $(shell pwd)
BIN := $(ROOT)/bin
K8S_BIN := $(BIN)/k8s/$(KUBE_VERSION)
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# crd-ref-docs writes docs/api-reference.md; its version is the one its tools module requires.
CRD_REF_DOCS_VERSION := $(shell awk '$$1=="require" && $$2=="github.com/elastic/crd-ref-docs" {print $$3}' hack/tools/crd-ref-docs/go.mod)
CRD_REF_DOCS := $(BIN)/crd-ref-docs-$(CRD_REF_DOCS_VERSION)
HELM_VERSION ?= v3.22.0
HELM := $(BIN)/helm-$(HELM_VERSION)
KUBECTL := $(K8S_BIN)/kubectl
export KUBEBUILDER_ASSETS := $(K8S_BIN)

# go test flags; TEST_FLAGS=-v for more output
TEST_FLAGS ?=

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Main

.PHONY: demo
demo: ## Bring up the local cluster, install Scrutin, start a mail catcher and an Election you can vote in (needs root; Ctrl-C to stop).
	go build -o bin/demo ./hack/demo
	bin/demo $(DEMO_FLAGS)

.PHONY: demo-down
demo-down: ## Stop the demo and the local cluster, and remove what they made.
	go build -o bin/demo ./hack/demo
	bin/demo -down

.PHONY: test
test: tools manifests api-docs vet ## Run every test: unit, envtest against a real kube-apiserver and etcd, then end to end on the local cluster (E2E=0 skips it).
	go test -count=1 -timeout 30m $(TEST_FLAGS) ./...
	@if [ "$(E2E)" = 1 ]; then $(MAKE) e2e; else echo "end-to-end tests skipped (E2E=0): make e2e runs them"; fi

.PHONY: test-archive
test-archive: ## Records archives against a real S3-compatible server: builds SeaweedFS on first use (about 25 min cold on 2 cores, then cached in bin/).
	SCRUTIN_SEAWEEDFS=$$(hack/build-seaweedfs.sh) go test $(TEST_FLAGS) -count=1 -run 'TestArchiveFetch' ./cmd/kubectl-scrutin

# The end-to-end tests need root (network namespaces, containerd); E2E=0 skips them.
E2E ?= 1

.PHONY: e2e
e2e: ## End to end on a local single-node cluster: up, deploy Scrutin's images, test/e2e, down.
	hack/local-cluster.sh up
	hack/local-cluster.sh deploy
	set -a; . _output/local-cluster/images.env; set +a; \
	SCRUTIN_E2E_PROBE_IMAGE=$$PROBE_IMAGE SCRUTIN_E2E_SEAWEEDFS_IMAGE=$${SEAWEEDFS_IMAGE:-} \
	  go test -tags e2e -count=1 -timeout 60m $(TEST_FLAGS) ./test/e2e && rc=0 || rc=$$?; \
	[ -n "$(KEEP_CLUSTER)" ] || hack/local-cluster.sh down; exit $$rc

.PHONY: e2e-helm
e2e-helm: $(HELM) ## End to end with Scrutin installed by its Helm chart (charts/scrutin) instead of config/default: a full vote and two isolated tenants.
	hack/local-cluster.sh up
	LC_INSTALL=helm HELM_VERSION=$(HELM_VERSION) hack/local-cluster.sh deploy
	set -a; . _output/local-cluster/images.env; set +a; \
	SCRUTIN_E2E_INSTALL=helm HELM_VERSION=$(HELM_VERSION) SCRUTIN_E2E_PROBE_IMAGE=$$PROBE_IMAGE \
	  go test -tags e2e -count=1 -timeout 30m -run 'TestInstalledWithHelm|TestElectionThroughTheService|TestTwoTenantsIsolated' -v $(TEST_FLAGS) ./test/e2e && rc=0 || rc=$$?; \
	[ -n "$(KEEP_CLUSTER)" ] || hack/local-cluster.sh down; exit $$rc

.PHONY: e2e-archive
e2e-archive: ## Records archived to a SeaweedFS pod on the local cluster and verified by kubectl scrutin (builds SeaweedFS first: about 25 min cold, then cached in bin/).
	hack/build-seaweedfs.sh >/dev/null
	hack/local-cluster.sh up
	hack/local-cluster.sh deploy
	set -a; . _output/local-cluster/images.env; set +a; \
	SCRUTIN_E2E_PROBE_IMAGE=$$PROBE_IMAGE SCRUTIN_E2E_SEAWEEDFS_IMAGE=$$SEAWEEDFS_IMAGE \
	  go test -tags e2e -count=1 -timeout 30m -run 'TestArchiveOnTheCluster' -v $(TEST_FLAGS) ./test/e2e && rc=0 || rc=$$?; \
	[ -n "$(KEEP_CLUSTER)" ] || hack/local-cluster.sh down; exit $$rc

.PHONY: e2e-congress
e2e-congress: ## The 140,000-voter party congress end to end on the local cluster (about 30 minutes; not part of make test).
	hack/local-cluster.sh up
	hack/local-cluster.sh deploy
	set -a; . _output/local-cluster/images.env; set +a; \
	SCRUTIN_E2E_CONGRESS=1 SCRUTIN_E2E_PROBE_IMAGE=$$PROBE_IMAGE go test -tags e2e -count=1 -timeout 90m -run 'TestCongress' -v $(TEST_FLAGS) ./test/e2e && rc=0 || rc=$$?; \
	[ -n "$(KEEP_CLUSTER)" ] || hack/local-cluster.sh down; exit $$rc

##@ Benchmarks (not part of make test; see test/bench/README.md)

.PHONY: bench-peak
bench-peak: ## The runtime at the noon peak: knee, 3x overload, casts against pgbench, baselines (about 15 minutes).
	go run ./test/bench/peak $(BENCH_FLAGS)

.PHONY: bench-peak-verifiable
bench-peak-verifiable: ## The noon peak in the verifiable mode: knee and 3x with every ballot's proofs checked at the cast, the board checked (about 15 minutes).
	go run ./test/bench/peak -verifiable $(BENCH_FLAGS)

.PHONY: load
load: ## Play an election day of 100,000 voters with a noon peak against the runtime, embedded then PostgreSQL.
	go run ./test/load/noon $(LOAD_FLAGS)

.PHONY: load-verifiable
load-verifiable: ## Verifiable casts per second through the runtime: 2,000 voters' encrypted ballots made first, then cast from 16 clients, the board checked (a few minutes).
	go run ./test/load/noon -verifiable -voters 2000 -cast-clients 16 $(LOAD_FLAGS)

.PHONY: bench-congress
bench-congress: tools ## The party congress: validate and import 140,000- and 1,000,000-voter rolls, send 140,000 letters through two kills (about 40 minutes).
	@mkdir -p _output/bench
	go test -run '^$$' -bench BenchmarkValidateMillionVotersInParts -benchtime 1x ./voting-runtime/roll | tee -a _output/bench/congress-go-bench.txt
	for n in 140000 1000000; do SCRUTIN_BENCH_VOTERS=$$n go test -run '^$$' -bench CongressRollValidation -benchtime 1x -timeout 30m ./controllers || exit 1; done | tee -a _output/bench/congress-go-bench.txt
	for n in 140000 1000000; do SCRUTIN_BENCH_VOTERS=$$n go test -run '^$$' -bench ImportRollCongress -benchtime 1x -timeout 30m ./voting-runtime/store/postgres ./voting-runtime/store/embedded || exit 1; done | tee -a _output/bench/congress-go-bench.txt
	for n in 14000 140000; do SCRUTIN_BENCH_VOTERS=$$n go test -run '^$$' -bench DeclareProxiesCongress -benchtime 3x -timeout 30m ./voting-runtime/store/postgres ./voting-runtime/store/embedded || exit 1; done | tee -a _output/bench/congress-go-bench.txt
	SCRUTIN_BENCH_CONGRESS=1 go test -count=1 -v -timeout 120m -run 'TestCongressImport|TestCongressLetters' $(BENCH_FLAGS) ./test/bench/congress
	@echo "figures: _output/bench/congress.txt and _output/bench/congress-go-bench.txt"

.PHONY: bench-verifiable
bench-verifiable: ## The verifiable mode: ballots checked per second per core, Scrutin's verifier against belenios-tool's on 10,000 ballots, the close of 140,000 (about 15 minutes; the board is made once and cached).
	@mkdir -p _output/bench
	go test -run '^$$' -bench 'BenchmarkBoardVerifyBallot|BenchmarkVerifyBallot2Questions|BenchmarkNewBallot|BenchmarkTallyAdd' -cpu 1,2 -benchtime 3s ./voting-runtime/belenios | tee -a _output/bench/verifiable-go-bench.txt
	go run ./test/bench/verifiable $(BENCH_FLAGS)
	@echo "figures: _output/bench/verifiable.txt and _output/bench/verifiable-go-bench.txt"

.PHONY: bench-provision
bench-provision: tools manifests ## Apply 500 Elections at once on a local control plane and measure provisioning.
	go run ./test/bench/provision $(BENCH_FLAGS)

.PHONY: bench-scale
bench-scale: k8s-binaries ## 10,000 Elections over 500 tenants on one control plane with kwok's fake nodes: time to Scheduled, reconcile p50/p99, API requests/s, RSS (BENCH_FLAGS="-elections 100 -tenants 10" for a smoke run).
	KUBE_VERSION=$(KUBE_VERSION) hack/build-k8s.sh kube-controller-manager kube-scheduler
	hack/build-kwok.sh >/dev/null
	go run ./test/bench/scale $(BENCH_FLAGS)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD, RBAC and deep-copy code from the Go types and markers.
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd rbac:roleName=manager-role paths=./api/... paths=./controllers/... paths=. \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	@$(MAKE) --no-print-directory chart-files

.PHONY: chart-files
chart-files: ## Copy into charts/scrutin what it shares with config/: the CRDs, the manager's ClusterRole, the alerts (test/chart fails when they differ).
	rm -f charts/scrutin/crds/*.yaml
	cp config/crd/bases/*.yaml charts/scrutin/crds/
	cp config/rbac/role.yaml charts/scrutin/files/manager-role.yaml
	cp config/prometheus/base/alerts.yaml charts/scrutin/files/alerts.yaml

.PHONY: helm-lint
helm-lint: $(HELM) ## helm lint --strict charts/scrutin, with its default values and with monitoring on.
	$(HELM) lint --strict charts/scrutin
	$(HELM) lint --strict charts/scrutin --set monitoring.enabled=true

.PHONY: api-docs
api-docs: $(CRD_REF_DOCS) ## Write docs/api-reference.md from the Go types of api/ (crd-ref-docs, templates in hack/api-docs).
	$(CRD_REF_DOCS) --source-path ./api --config hack/api-docs/config.yaml --renderer markdown \
		--templates-dir hack/api-docs/templates --output-path docs/api-reference.md --log-level ERROR

.PHONY: verify-manifests
verify-manifests: manifests api-docs ## Fail if the generated files (CRD, RBAC, deep copies, API reference) are not committed as generated.
	@git diff --exit-code -- config api docs/api-reference.md charts || { echo "generated files are stale: run make manifests api-docs and commit"; exit 1; }
	@git ls-files --error-unmatch docs/api-reference.md >/dev/null 2>&1 || { echo "docs/api-reference.md is not committed: run make api-docs and commit it"; exit 1; }

.PHONY: build-installer
build-installer: manifests ## Build the images (no Docker) into dist/images and write dist/install.yaml referencing them.
	KUBECTL=$(KUBECTL) hack/build-installer.sh

.PHONY: vet
vet: ## go vet and gofmt.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	go vet ./...

.PHONY: build
build: manifests ## Build the manager binary into bin/.
	go build -o $(BIN)/manager .

##@ Tools (built from the Go module proxy, cached under bin/)

.PHONY: tools
tools: $(CONTROLLER_GEN) $(CRD_REF_DOCS) $(HELM) k8s-binaries browser-tools ## Build every tool the tests need.

.PHONY: k8s-binaries
k8s-binaries: ## Build kube-apiserver, etcd and kubectl (about 7 minutes the first time).
	KUBE_VERSION=$(KUBE_VERSION) hack/build-k8s.sh kube-apiserver etcd kubectl

.PHONY: browser-tools
browser-tools: test/browser/node_modules/.installed ## Install axe-core for the page tests (npm, pinned by the lockfile).

test/browser/node_modules/.installed: test/browser/package.json test/browser/package-lock.json
	npm ci --prefix test/browser --no-audit --no-fund
	touch $@

$(CONTROLLER_GEN):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(BIN)/controller-gen $@

# helm, for charts/scrutin (make helm-lint, test/chart). Cold: 3m40s of CPU (user+sys), 6m40s wall
# on a 2-core machine loaded by other builds (hack/build-helm.sh); cached afterwards.
$(HELM):
	HELM_VERSION=$(HELM_VERSION) hack/build-helm.sh >/dev/null

# Built in its own module (hack/tools/crd-ref-docs), so that the root go.mod is left alone.
$(CRD_REF_DOCS):
	@mkdir -p $(BIN)
	cd hack/tools/crd-ref-docs && go build -trimpath -o $@.tmp github.com/elastic/crd-ref-docs
	mv $@.tmp $@

.PHONY: clean
clean: ## Remove build output (keeps the cached tools).
	rm -f $(BIN)/manager
