# Two commands on a fresh machine:
#   make run    install into .venv, build the bundled example dataset, show it
#   make test   install into .venv, run the whole test suite (lint included)
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(VENV)/bin
EXAMPLE := data/hf_datasets/pbmc68k_reduced_multiplets_natural_language_annotation

.PHONY: install install-test run test lint bench clean install-slurm-profile

# `make run` installs the package alone; `make test` adds the test tools (and the SLURM
# executor plugin, which probes the cluster at every `snakemake` start: kept out of
# environments that never submit).
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

install-test: $(BIN)/.installed-test

run: install
	$(BIN)/snakemake --cores $(CORES) --configfile config/example.yaml
	$(BIN)/python -m adata_hf_datasets.show $(EXAMPLE)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks (~35 minutes on 2 cores, 3 runs each); BENCH_ARGS="--smoke" for a one-minute check.
bench: install-test
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/run_bench.py $(BENCH_ARGS)

lint: install-test
	$(BIN)/snakemake --lint --configfile config/example.yaml
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=workflow/lib $(BIN)/lint-imports

clean:
	rm -rf results logs benchmarks .snakemake data/hf_datasets

SLURM_PROFILE_DIR ?= $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/snakemake/slurm

# Link profiles/slurm to where `snakemake --profile slurm` finds it (a link: git pull updates it).
install-slurm-profile:
	@if [ -e "$(SLURM_PROFILE_DIR)" ] && [ ! -L "$(SLURM_PROFILE_DIR)" ]; then \
		echo "$(SLURM_PROFILE_DIR) exists and is not a link: move it away first" >&2; exit 1; fi
	mkdir -p "$(dir $(SLURM_PROFILE_DIR))"
	ln -sfn "$(CURDIR)/profiles/slurm" "$(SLURM_PROFILE_DIR)"
	@echo "snakemake --profile slurm  now uses  $(CURDIR)/profiles/slurm"
