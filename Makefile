# mdrl — two commands for a fresh machine with python3: `make figures` and `make test`.
# Each creates .venv (pinned requirements from pyproject.toml) when it is missing or out of date.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SCALE  ?= quick
NOTEBOOKS ?=
EXECUTOR ?=
ONLY   := $(if $(strip $(NOTEBOOKS)),--only $(NOTEBOOKS))
export MPLBACKEND := Agg
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: figures test reproduce paper lint venv clean help

help:
	@echo "make figures                 regenerate every figure (quick scale, from committed data/)"
	@echo "make test                    unit tests + every notebook at smoke scale (nbval)"
	@echo "make reproduce SCALE=quick   re-run the experiments instead of reading data/ (quick|paper)"
	@echo "  NOTEBOOKS=\"10 21\"           (figures, reproduce) only these notebooks, by number or name"
	@echo "  EXECUTOR=tcp://host:8786     (reproduce) run the sweeps on a running dask cluster"
	@echo "make lint                    ruff + notebooks stored stripped"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing pinned requirements into $(VENV) (log: $(VENV)/install.log) ..."
	@$(PY) -m pip install --disable-pip-version-check -e '.[dev]' > $(VENV)/install.log 2>&1 \
	  || (tail -n 40 $(VENV)/install.log; echo "error: pip install failed (full log: $(VENV)/install.log)"; exit 1)
	@$(PY) -c "import mdrl_lib, torch, mujoco, gymnasium, papermill, nbval" \
	  || (echo "error: installing the requirements into $(VENV) failed (see above)"; exit 1)
	@# notebooks run in JupyterLab keep their outputs locally; this git filter strips them on `git add`
	@if git rev-parse --git-dir >/dev/null 2>&1; then $(VENV)/bin/nbstripout --install \
	  && echo "nbstripout installed as this clone's git filter for *.ipynb"; fi
	@touch $(STAMP)

figures: $(STAMP)
	$(PY) -m mdrl_lib.notebooks run --scale quick $(ONLY)

test: $(STAMP)
	rm -rf build/notebooks/smoke
	$(PY) -m mdrl_lib.notebooks prepare --scale smoke
	$(PY) -m pytest -p no:cacheprovider tests build/notebooks/smoke --nbval-lax --nbval-current-env --durations=25

reproduce: $(STAMP)
	@case "$(SCALE)" in quick|paper) ;; *) echo "error: SCALE=$(SCALE) is not valid; use SCALE=quick or SCALE=paper"; exit 2;; esac
	MDRL_RERUN=1 MDRL_EXECUTOR=$(EXECUTOR) $(PY) -m mdrl_lib.notebooks run --scale $(SCALE) $(ONLY)

paper:
	$(MAKE) reproduce SCALE=paper

lint: $(STAMP)
	$(VENV)/bin/ruff check mdrl_lib tests benchmarks
	$(VENV)/bin/nbstripout --verify notebooks/*.ipynb

clean:
	rm -rf build .pytest_cache
