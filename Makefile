# The two commands that matter: `make serve` and `make test` (both install what they need).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 0.0.0.0
PORT   ?= 3000

.PHONY: install serve worker test lint typecheck docs pytest bench-verification bench-latency calibrate \
	synth-attacks fit-liveness bench-liveness bench-load proto web fuzz lock audit clean

install: $(VENV)/.installed

# Exactly the locked versions, every file checked against its sha256 (requirements/dev.txt, written
# by `make lock`); facegate itself without build isolation, with the locked setuptools.
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/facegate models verify
	touch $@

# Re-resolve the newest versions pyproject.toml allows, for Python 3.11 on Linux (the Dockerfile's
# base and CI's), with the hash of every file: requirements/server.txt (the image) and dev.txt.
LOCK = $(BIN)/uv pip compile --quiet --upgrade --generate-hashes --python-platform linux \
	--python-version 3.11.7 --custom-compile-command "make lock" pyproject.toml requirements/build.in
lock: install
	$(LOCK) --extra server -o requirements/server.txt
	$(LOCK) --extra server --extra dev -o requirements/dev.txt

# Known vulnerabilities in the locked set (pip-audit); says so, and passes, when the advisory
# source cannot be reached.
audit: install
	$(BIN)/python -m tools.audit requirements/dev.txt

serve: install
	$(BIN)/facegate serve --host $(HOST) --port $(PORT)

# An inference worker for API tiers started with FACEGATE_WORKER_URLS (docs/scale.md).
WORKER_PORT ?= 50050
worker: install
	$(BIN)/facegate worker --host $(HOST) --port $(WORKER_PORT)

lint: install
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

# The documentation site (docs/, mkdocs.yml) into site/: offline, and any broken link fails it.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: lint typecheck docs pytest

# The face_recognition peer pulls `dlib` from source by its metadata; dlib-bin already provides it.
$(VENV)/.bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --no-deps face-recognition==1.3.0
	$(BIN)/python -m pip install --quiet Click
	touch $@

bench-verification: install
	for p in default accurate dlib; do $(BIN)/python -m benchmarks.verification \
	  --data ../shared/data/lfw --profile $$p --json benchmarks/results/verification-$$p.json \
	  --doc docs/accuracy.md || exit 1; done

bench-latency: $(VENV)/.bench
	$(BIN)/python -m benchmarks.latency --data ../shared/data --json benchmarks/results/latency-default.json
	$(BIN)/python -m benchmarks.latency --data ../shared/data --profile accurate --no-peer --only verification \
	  --json benchmarks/results/latency-accurate.json --doc docs/speed.md
	$(BIN)/python -m benchmarks.latency --data ../shared/data --only ratio \
	  --json benchmarks/results/latency-sets.json
	$(BIN)/python -m benchmarks.latency --data ../shared/data --only video \
	  --json benchmarks/results/latency-video.json
	$(BIN)/python -m benchmarks.runtimes --data ../shared/data --json benchmarks/results/runtimes.json
	$(BIN)/python -m benchmarks.detection --data ../shared/data --json benchmarks/results/detection.json
	$(BIN)/python -m tools.docs

# Liveness: synthetic attacks (benchmarks/.cache/synth, made by tools/synth), the fusion fit
# (tools/fit_liveness.py, which refuses weights that miss its targets), and the measurement.
# MINIFASNET names a folder or URL holding the optional pack; it is installed into the default
# model directory so that the "with_pack" figures can be taken.
MINIFASNET ?= ../shared/models/minifasnet

synth-attacks: install
	$(BIN)/python -m tools.synth --data ../shared/data

fit-liveness: install
	$(BIN)/facegate models install minifasnet --from $(MINIFASNET)
	$(BIN)/python -m tools.fit_liveness --data ../shared/data --write

bench-liveness: install
	$(BIN)/facegate models install minifasnet --from $(MINIFASNET)
	$(BIN)/python -m benchmarks.liveness --data ../shared/data --json benchmarks/results/liveness.json --doc docs/liveness.md

# The API fuzzed from its OpenAPI document, and the parsers of attacker bytes with Atheris
# (tests/fuzz), for longer than the test suite does (40 examples per operation and generation
# mode there; 10 s per fuzz target).
fuzz: install
	FACEGATE_FUZZ_EXAMPLES=2000 $(BIN)/pytest tests/api/test_fuzz.py
	FACEGATE_FUZZ_SECONDS=300 $(BIN)/pytest tests/fuzz

# The web SDK and the hosted capture page: web/ (TypeScript) built with esbuild into
# src/facegate/api/static/capture, which is committed (tests/web checks it equals a fresh build).
web:
	cd web && npm ci --no-audit --no-fund && npm run build

# The liveness package format: regenerate the committed Python code from proto/ (protoc from
# grpcio-tools, pinned in the dev extra; tests/proto checks that the committed files match).
proto: install
	$(BIN)/python -m grpc_tools.protoc --proto_path=proto --python_out=src/facegate/proto --pyi_out=src/facegate/proto proto/facegate/v1/liveness.proto proto/facegate/v1/worker.proto

# API + 2 workers on loopback vs in-process: throughput, SIGKILL a worker, 10-minute soak.
bench-load: install
	$(BIN)/python -m benchmarks.load --data ../shared/data/lfw --json benchmarks/results/load.json

calibrate: install
	$(BIN)/python -m tools.calibrate --data ../shared/data/lfw

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
