# Quick start: `make demo` and `make test`. Both create .venv/ on first use.
# torch is installed first and pinned, so a CPU-only machine never pulls CUDA wheels;
# GPU users override it, e.g. `make TORCH="torch==2.13.0 --index-url <your CUDA index>" venv`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint format bench default-bundle shipped-bundle bundle-from-gan bundle-quality clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ldedit demo --out demo-output

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/io_phantoms.py
	$(BIN)/python benchmarks/generator.py --quick
	$(BIN)/python benchmarks/engine.py --json docs/figures/engine.json
	$(BIN)/python benchmarks/service.py --json docs/figures/service.json

# Default bundles. Every step resumes from runs/ (a finished step is a no-op).
# `make shipped-bundle` rebuilds the bundle in ldedit_core/bundles/default: the GAN as it was at 133.1 kimg
# (taken from git history), its encoder, the 15-epoch guide and the 30-epoch evaluator.
# `make default-bundle` trains the GAN on to GAN_KIMG and rebuilds everything from that (the committed GAN
# checkpoint is at 490.4 kimg; docs/default-bundle.md, "History", says why that one is not shipped).
# GPU: `make default-bundle PRESET=gpu128 RES=128 GAN_KIMG=2000`. CPU: the defaults, hours in the background.
PRESET ?= cpu64
GAN_KIMG ?= 490.4
ENC_KIMG ?= 25
# kimg for the adaptive augmentation probability to cross 0..1 (the committed run went from always-on
# augmentation to adaptive at 187.2 kimg; see docs/default-bundle.md)
ADA_KIMG ?= 20
RES ?= 64
DIRECTION_SAMPLES ?= 10000
SHIPPED_GAN_COMMIT := c8ad96f
SHIPPED_GAN := runs/default-gan-133.1/checkpoint.safetensors
# The encoder belongs to one generator: a GAN trained further gets a fresh encoder folder.
ENC_DIR ?= runs/default-encoder-gan$(GAN_KIMG)
GAN_CKPT ?= runs/default-gan/checkpoint.safetensors

default-bundle: $(STAMP)
	$(BIN)/ldedit train-gan --out runs/default-gan --preset $(PRESET) --num-images 10000 --kimg $(GAN_KIMG) --resume \
		--ada-target 0.6 --ada-kimg $(ADA_KIMG)
	$(MAKE) bundle-from-gan

shipped-bundle: $(STAMP)
	mkdir -p $(dir $(SHIPPED_GAN))
	git show $(SHIPPED_GAN_COMMIT):runs/default-gan/checkpoint.safetensors > $(SHIPPED_GAN)
	$(MAKE) bundle-from-gan GAN_CKPT=$(SHIPPED_GAN) ENC_DIR=runs/default-encoder-gan133.1 RES=64

# encoder, guide, evaluator, bundle and directions for the generator in GAN_CKPT
bundle-from-gan: $(STAMP)
	$(BIN)/ldedit train-encoder --gan $(GAN_CKPT) --out $(ENC_DIR) --kimg $(ENC_KIMG) --resume
	$(BIN)/ldedit train-classifier --out runs/default-guide --data phantoms --role guide \
		--arch densenet-small --resolution $(RES) --n 10000 --epochs 15 --resume
	$(BIN)/ldedit train-classifier --out runs/default-evaluator --data phantoms --role evaluator \
		--arch resnet10 --resolution $(RES) --n 10000 --epochs 30 --resume
	$(BIN)/ldedit bundle build --out ldedit_core/bundles/default --overwrite \
		--gan $(GAN_CKPT) --encoder $(ENC_DIR)/encoder_checkpoint.safetensors \
		--guide runs/default-guide --evaluator runs/default-evaluator \
		--description "LDEdit default: trained on synthetic phantoms, for demonstration and tests only" \
		--data "10,000 procedural chest-radiograph phantoms (ldedit_core.phantoms), $(RES) px"
	$(BIN)/ldedit fit-directions --bundle ldedit_core/bundles/default --in-place --n $(DIRECTION_SAMPLES)
	$(MAKE) bundle-quality

bundle-quality: $(STAMP)
	$(BIN)/python benchmarks/default_bundle_quality.py --bundle default \
		--json docs/figures/default_bundle_quality.json --grid docs/figures/default_bundle_samples.png

clean:
	rm -rf $(VENV) demo-output .pytest_cache
