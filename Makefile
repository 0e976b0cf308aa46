# Stoke. `make help` lists the targets.

GO        ?= go
BIN       := bin
DATA_DIR  ?= .data
PORT      ?= 3233
GOTEST    ?= $(GO) test
TESTFLAGS ?= -count=1 -timeout 15m

.DEFAULT_GOAL := help

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## install what the build and tests need from Debian (wat2wasm, PostgreSQL)
	@.ci/postgres.sh
	@command -v wat2wasm >/dev/null || { \
		echo "installing wabt (wat2wasm) from Debian"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wabt >/dev/null; } \
		|| { echo "could not install wabt: run 'apt-get install wabt' as root"; exit 1; }; }

build: ## build bin/stoke and the backend plugin binaries (bin/plugins)
	$(GO) build -o $(BIN)/stoke ./cmd/stoke
	$(GO) build -o $(BIN)/plugins/stoke-backend-wasm ./cmd/stoke-backend-wasm
	$(GO) build -o $(BIN)/plugins/stoke-backend-docker ./cmd/stoke-backend-docker
	$(GO) build -o $(BIN)/plugins/stoke-backend-runc ./cmd/stoke-backend-runc

images: ## build the runtime images (nodejs20, python3, native) from this host's files; cached by content
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/stoke-proxy ./cmd/stoke-proxy
	$(GO) run ./runtime/cmd/build-images -proxy $(BIN)/stoke-proxy -out $(BIN)/runtimes

examples: deps ## build the example wasm actions into bin/examples
	@mkdir -p $(BIN)/examples
	GOOS=wasip1 GOARCH=wasm $(GO) build -o $(BIN)/examples/hello.wasm ./examples/hello-go
	wat2wasm examples/echo-wat/echo.wat -o $(BIN)/examples/echo.wasm

run: build examples images ## build, then start `stoke serve` on embedded defaults (port 3233)
	$(BIN)/stoke serve --port $(PORT) --data-dir $(DATA_DIR)

bench: build examples images ## measure every path side by side: table, bench-out/bench.json, bench-out/latency.svg
	@mkdir -p bench-out
	$(BIN)/stoke bench --json bench-out/bench.json --svg bench-out/latency.svg $(BENCHFLAGS)

test: deps images ## run every test (docker and runc tests need root and a docker engine)
	$(GO) vet ./...
	$(GOTEST) $(TESTFLAGS) ./...

check: ## gofmt and vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

fuzz: deps ## run each fuzz target for FUZZTIME (default 20s)
	@grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | while IFS=: read -r file fn; do \
		fn=$${fn#func }; pkg=./$$(dirname $${file#./}); \
		echo "fuzz $$pkg $$fn"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $${FUZZTIME:-20s} $$pkg || exit 1; \
	done

generate: ## regenerate the plugin gRPC code (needs protoc, protoc-gen-go, protoc-gen-go-grpc)
	$(GO) generate ./sdk/proto

clean: ## remove build output (keeps $(DATA_DIR))
	rm -rf $(BIN)

.PHONY: help deps build images examples run bench test check fuzz generate clean
