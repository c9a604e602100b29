"""The paper experiments, and the one function that runs any of them: :func:`run_experiment`.

An experiment module declares only what is its own:

* ``NAME`` and ``SIZES`` — its configuration per scale (``smoke`` / ``quick`` / ``paper``): every size, budget
  and grid axis in one table, with the arithmetic behind the quick budget in a comment;
* ``grid(config) -> [setting, ...]`` — the settings to run, as typed coordinate values
  (``{"algo": "MaxDiff", "beta": 0.001}``); each is run for every seed in ``config["seeds"]``;
* ``resolve(setting, config) -> Run`` — everything that setting's runs do, fully resolved (agent config from
  :func:`mdrl_lib.agents.agent_config`, schedule, environment, analysis sizes): the cache key;
* ``run_one(run, seed, ctx) -> xarray.Dataset`` — one run; it may use only ``run``, ``seed`` and ``ctx`` (so
  nothing it uses can escape the key); ``ctx.train(...)`` is the training loop with this run's checkpoints;
* optionally ``validate(config)`` (clear errors for bad choices) and ``finish(ds, config)`` (coordinates or
  attributes of the combined Dataset).

:func:`run_experiment` does the rest for every experiment: merges the config, picks the executor and torch
threads, derives every path from :mod:`mdrl_lib.paths`, builds the jobs, reuses every finished run whose
resolved config is unchanged (from the data file or the run store — the one reuse mechanism), trains the others
through :func:`mdrl_lib.sweep.run_jobs`, and writes the Dataset with one provenance record per run
(:func:`mdrl_lib.results.load_or_run`).

Command line: ``python -m mdrl_lib.experiments NAME --scale quick [--executor tcp://host:8786]``.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import xarray as xr

from mdrl_lib.agents import agent_config, config_dict
from mdrl_lib.paths import build_dir, check_scale
from mdrl_lib.results import Job, code_provenance, device_description, load_or_run, run_record, run_store, store_run
from mdrl_lib.sweep import check_executor, combine, run_jobs
from mdrl_lib.train import TrainConfig, config_key
from mdrl_lib.utils import flush_denormals

#: experiment name -> module under mdrl_lib.experiments
EXPERIMENTS = {
    "cheetah_ant": "mdrl_lib.experiments.cheetah_ant",
    "diffusion_maxent": "mdrl_lib.experiments.diffusion_maxent",
    "diffusion_toy": "mdrl_lib.experiments.diffusion_toy",
    "dime": "mdrl_lib.experiments.dime",
    "dime_dmc": "mdrl_lib.experiments.dime_dmc",
    "random_baseline": "mdrl_lib.experiments.random_baseline",
    "point_mass": "mdrl_lib.experiments.point_mass",
    "peer_check": "mdrl_lib.experiments.peer_check",
    "single_shot": "mdrl_lib.experiments.single_shot",
    "swimmer_alpha": "mdrl_lib.experiments.swimmer_alpha",
    "swimmer_light": "mdrl_lib.experiments.swimmer_light",
}


@dataclass(frozen=True)
class Run:
    """One setting's runs, fully resolved; with the seed, its JSON form (:meth:`key`) is the cache key."""

    algo: str
    env: str
    agent: Any  # the resolved agent config dataclass: make_agent(algo, env, config=run.agent, seed=...)
    train: TrainConfig  # the schedule; its seed is replaced by the run's
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # anything else run_one uses

    @classmethod
    def of(cls, algo: str, env: str, train: TrainConfig, *, env_kwargs: Mapping[str, Any] | None = None,
           max_episode_steps: int | None = None, extra: Mapping[str, Any] | None = None, preset: str = "default",
           **overrides: Any) -> Run:
        """A Run whose agent config is :func:`mdrl_lib.agents.agent_config` ``(algo, env, preset, **overrides)``."""
        run = cls(algo, env, None, train, dict(env_kwargs or {}), max_episode_steps, dict(extra or {}))
        probe = run.make_env()
        try:
            return replace(run, agent=agent_config(algo, probe, preset=preset, **overrides))
        finally:
            probe.close()

    def make_env(self):
        """A fresh environment of this run (with its episode limit when one is set)."""
        from mdrl_lib.envs import make_env

        limit = {} if self.max_episode_steps is None else {"max_episode_steps": self.max_episode_steps}
        return make_env(self.env, **limit, **dict(self.env_kwargs))

    def key(self) -> dict[str, Any]:
        """Every field that shapes the run's numbers, as plain JSON-able values (the seed is separate).

        The schedule is :func:`mdrl_lib.train.config_key`: TrainConfig fields added after results schema 2
        (:data:`mdrl_lib.train.NEW_TRAIN_FIELDS`, e.g. ``single_shot``) appear only when they differ from their
        default, so adding such a field leaves every stored run's key, and so its cached result, as it was."""
        schedule = config_key(self.train)
        schedule.pop("seed")
        return {"algo": self.algo, "env": self.env, "env_kwargs": dict(self.env_kwargs),
                "max_episode_steps": self.max_episode_steps, "agent": config_dict(self.agent), "train": schedule,
                "extra": dict(self.extra)}


@dataclass
class RunContext:
    """What :func:`run_experiment` gives ``run_one`` besides the run: where to checkpoint, whether to show progress."""

    checkpoint_dir: Path | None = None
    progress: bool = False
    desc: str = ""
    train_wall_time_s: float = 0.0  # filled by :meth:`train`: the run's training time across resumes
    branched_from: dict[str, Any] | None = None  # filled by :meth:`train` for a branched run (:func:`branch_job`)
    _train_call_s: float = 0.0

    def train(self, run: Run, agent, seed: int, make_env=None) -> xr.Dataset:
        """:func:`mdrl_lib.train.train` with the run's schedule and seed; checkpoints (and resumes) in
        ``checkpoint_dir``."""
        from mdrl_lib.train import train

        t0, timing = time.perf_counter(), {}
        ds = train(make_env or run.make_env, agent, replace(run.train, seed=int(seed)),
                   checkpoint_dir=self.checkpoint_dir, progress=self.progress, desc=self.desc, timing=timing)
        self._train_call_s += time.perf_counter() - t0
        self.train_wall_time_s += timing["wall_time_s"]
        if "branched_from" in ds.attrs:
            self.branched_from = json.loads(ds.attrs["branched_from"])
        return ds


def get_experiment(name: str | ModuleType) -> ModuleType:
    """The module implementing experiment ``name``; ``ValueError`` naming the valid ones if unknown."""
    if isinstance(name, ModuleType):
        return name
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid experiments are {', '.join(sorted(EXPERIMENTS))}")
    return importlib.import_module(EXPERIMENTS[name])


def experiment_config(spec: str | ModuleType, scale: str, overrides: Mapping[str, Any] | None = None
                      ) -> dict[str, Any]:
    """``SIZES[scale]`` of the experiment with ``overrides`` applied; one clear error for a bad scale or key."""
    module = get_experiment(spec)
    base = module.SIZES[check_scale(scale)]
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(base))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown} for {module.NAME}; valid: {sorted(base)}")
    config = {**base, **overrides}
    if hasattr(module, "validate"):
        module.validate(config)
    return config


def quick_target_remaining(spec: str | ModuleType) -> dict[str, Any]:
    """What of the experiment's ``QUICK_TARGET`` (its planned quick grid, trained over sessions) ``SIZES["quick"]``
    does not hold yet: per list-valued key the values still missing (e.g. ``{"envs": [...]}``), per other key the
    target value where it differs. Empty when quick is the target or the experiment has no ``QUICK_TARGET``."""
    module = get_experiment(spec)
    target, quick = getattr(module, "QUICK_TARGET", {}), module.SIZES["quick"]
    remaining = {}
    for key, want in target.items():
        if isinstance(want, list):
            missing = [v for v in want if v not in quick[key]]
            if missing:
                remaining[key] = missing
        elif quick[key] != want:
            remaining[key] = want
    return remaining


def check_choices(label: str, values: Sequence[Any], valid: Sequence[Any]) -> None:
    """Raise ``ValueError`` naming the ``values`` that are not in ``valid`` (e.g. unknown algorithms)."""
    valid = list(valid)
    bad = [v for v in values if v not in valid]
    if bad:
        raise ValueError(f"unknown {label}(s) {bad}; valid {label}s are {', '.join(map(str, valid))}")


def jobs_of(spec: str | ModuleType, config: Mapping[str, Any]) -> tuple[list[Job], dict[str, Run]]:
    """Every (setting, seed) of the experiment's grid as a :class:`~mdrl_lib.results.Job`, and each setting's Run."""
    module = get_experiment(spec)
    jobs, runs = [], {}
    for setting in module.grid(config):
        run = module.resolve(setting, config)
        for seed in config["seeds"]:
            job = Job(dict(setting), int(seed), run.key())
            runs[job.label] = run
            jobs.append(job)
    if len({job.key for job in jobs}) != len(jobs):
        raise ValueError(f"{module.NAME}: the grid repeats a (setting, seed); check the config's seeds and grid axes")
    return jobs, runs


def choose_executor(scale: str, executor: Any = None) -> Any:
    """The executor rule: the argument, else ``MDRL_EXECUTOR``, else ``serial`` for smoke and ``process`` otherwise."""
    choice = executor or os.environ.get("MDRL_EXECUTOR") or ("serial" if scale == "smoke" else "process")
    return check_executor(choice)


def choose_threads(scale: str, executor: Any, n_jobs: int, max_workers: int | None = None,
                   threads: int | None = None) -> int:
    """The torch-thread rule for every run: the argument, else 1 at smoke scale (tiny networks: extra threads only
    spin) and for cluster workers (start one dask worker process per core), else the cores shared evenly by the
    local runs that execute at once (on 2 cores: two runs side by side at 1 thread each)."""
    if threads:
        if int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        return int(threads)
    cores = os.cpu_count() or 1
    if scale == "smoke" or executor not in ("serial", "process"):
        return 1
    if executor == "serial":
        return cores
    return max(1, cores // max(1, min(n_jobs, max_workers or cores)))


class _Execute:
    """Picklable worker function: one ``(run, seed, checkpoint_dir, label)`` -> ``(Dataset, measured)``."""

    def __init__(self, module: str, threads: int, progress: bool):
        self.module, self.threads, self.progress = module, threads, progress

    @flush_denormals()  # the whole run, also what run_one does outside train (e.g. transfer evaluations)
    def __call__(self, item: tuple[Run, int, str | None, str]) -> tuple[xr.Dataset, dict[str, Any]]:
        import torch

        run, seed, checkpoint_dir, label = item
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)  # restored below: a serial run must not change its caller's threads
        ctx = RunContext(checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None, progress=self.progress,
                         desc=f"{label} seed {seed}")
        t0 = time.perf_counter()
        try:
            ds = importlib.import_module(self.module).run_one(run, seed, ctx)
        finally:
            torch.set_num_threads(before)
        if not isinstance(ds, xr.Dataset):
            raise TypeError(f"{self.module}.run_one returned {type(ds).__name__}, expected xarray.Dataset")
        # the run's training time across resumes, plus this process's time outside training
        wall = ctx.train_wall_time_s + (time.perf_counter() - t0 - ctx._train_call_s)
        measured = {"wall_time_s": round(wall, 3), "device": device_description()}
        return ds, measured | ({"branched_from": ctx.branched_from} if ctx.branched_from else {})


def run_experiment(spec: str | ModuleType, scale: str = "quick", *, overrides: Mapping[str, Any] | None = None,
                   executor: Any = None, threads: int | None = None, max_workers: int | None = None,
                   rerun: bool | None = None, progress: bool | None = None, verbose: bool = True) -> xr.Dataset:
    """Load or compute ``data/<experiment>/<scale>.nc``: the one path from a notebook (or CLI) to a run.

    Parameters
    ----------
    spec : experiment name (see :data:`EXPERIMENTS`) or module.
    scale : ``smoke`` | ``quick`` | ``paper``.
    overrides : replace keys of ``SIZES[scale]`` (unknown keys are an error naming the valid ones).
    executor : ``"serial"``, ``"process"``, a dask scheduler address ``"tcp://host:8786"`` or a
        ``distributed.Client`` (default: ``MDRL_EXECUTOR``, else serial for smoke, process otherwise).
    threads, max_workers : torch threads per run and local worker processes (default: :func:`choose_threads`).
    rerun : ``True`` ignores the data file (default ``MDRL_RERUN``); see :func:`mdrl_lib.results.load_or_run`.

    Every run whose (setting, seed, resolved config) is already in the data file or the run store is reused;
    the others are trained (checkpointed under ``build/checkpoints/<experiment>/<scale>/``; smoke never
    checkpoints or caches).
    """
    module = get_experiment(spec)
    config = experiment_config(module, scale, overrides)
    jobs, runs = jobs_of(module, config)
    executor = choose_executor(scale, executor)
    show = (scale != "smoke") if progress is None else progress

    def run_fn(todo: list[Job], on_result) -> list:
        n_threads = choose_threads(scale, executor, len(todo), max_workers, threads)
        items = [(runs[job.label], job.seed, _checkpoint_dir(module.NAME, scale, job), job.label) for job in todo]
        return run_jobs(_Execute(module.__name__, n_threads, progress=show and executor == "serial"), items,
                        executor=executor, max_workers=max_workers, threads=n_threads, on_result=on_result,
                        progress=show)

    def assemble(parts: list[xr.Dataset], jobs_: list[Job]) -> xr.Dataset:
        ds = combine(parts, [j.setting for j in jobs_], [j.seed for j in jobs_])
        return module.finish(ds, config) if hasattr(module, "finish") else ds

    return load_or_run(module.NAME, scale, config, jobs, run_fn, assemble, rerun=rerun, verbose=verbose)


def run_or_pending(spec: str | ModuleType, scale: str = "quick", *, cost: str = "", **kwargs: Any) -> xr.Dataset | None:
    """:func:`run_experiment` for a notebook section whose data file may not be committed yet.

    At ``smoke`` (seconds) it always runs. At ``quick``/``paper``, when ``data/<experiment>/<scale>.nc`` is missing
    (its runs take hours and have not been trained and committed yet) it trains nothing: it prints the command that
    would (``cost``: the stated budget, e.g. ``"~5.7 core-hours"``) and returns ``None``, so the notebook draws the
    published part alone. ``MDRL_RERUN=1`` or ``rerun=True`` trains as :func:`run_experiment` does.
    """
    from mdrl_lib.results import _rerun_requested, results_path

    module = get_experiment(spec)
    rerun = kwargs.get("rerun")
    wanted = _rerun_requested(scale) if rerun is None else bool(rerun)
    if scale != "smoke" and not wanted and not results_path(module.NAME, scale).exists():
        print(f"{module.NAME} [{scale}]: {results_path(module.NAME, scale)} is not committed yet, so this section "
              f"draws no runs of ours. Train it with run_experiment({module.NAME!r}, {scale!r})"
              + (f" ({cost})" if cost else "") + " or MDRL_RERUN=1.")
        return None
    return run_experiment(module, scale, **kwargs)


def run_single(spec: str | ModuleType, scale: str, index: int, *, overrides: Mapping[str, Any] | None = None,
               threads: int | None = None) -> xr.Dataset:
    """Train (or resume) job ``index`` of the experiment's grid in this process and keep it in the run store.

    For background jobs and cluster job arrays: a later :func:`run_experiment` reuses the stored run.
    """
    module, job, run = _job_at(spec, scale, index, overrides)
    provenance = code_provenance(scale)
    n_threads = choose_threads(scale, "serial", 1, threads=threads)
    ds, measured = _Execute(module.__name__, n_threads, progress=True)(
        (run, job.seed, _checkpoint_dir(module.NAME, scale, job), job.label))
    if scale != "smoke":
        store_run(module.NAME, scale, job, ds, run_record(job, measured, provenance))
        print(f"{module.NAME} [{scale}] job {index} ({job.label} seed {job.seed}): {measured['wall_time_s']:.0f} s, "
              f"kept in {run_store(module.NAME, scale)}")
    return ds


def branch_job(source: str | ModuleType, source_index: int, target: str | ModuleType, target_index: int, scale: str,
               checkpoint: str | Path, *, source_overrides: Mapping[str, Any] | None = None,
               target_overrides: Mapping[str, Any] | None = None) -> Path:
    """Start job ``target_index`` of ``target`` from ``checkpoint``, which job ``source_index`` of ``source`` wrote.

    For two runs that train the same thing and differ only in their schedule's length, evaluations and checkpoints
    (:data:`mdrl_lib.train.SCHEDULE_FIELDS`) and in what ``run_one`` does around training (``Run.extra``): e.g.
    swimmer_light's heavy-tail runs are the first 10 k steps of swimmer_alpha's runs. The target's first
    ``checkpoint["step"]`` steps are then the source's, bit for bit (:func:`mdrl_lib.train.branch_checkpoint`), so
    the target is not trained again up to there: this writes the target's checkpoint, and :func:`run_single` or
    :func:`run_experiment` resumes from it as from its own, and records ``branched_from`` (source experiment, job,
    seed, config hash and step) in the run's record.

    ``checkpoint`` must lie in the source job's checkpoint folder (``build/checkpoints/<experiment>/<scale>/<job>/``:
    ``last.pt`` or a copy of it kept at an earlier step) and carry the source's schedule. One ``ValueError`` names
    what does not match: the seed, the run (algorithm, environment, agent, episode limit), the schedule or the
    evaluation rows. An existing target checkpoint is never overwritten.
    """
    import torch

    from mdrl_lib.agents import make_agent
    from mdrl_lib.train import CHECKPOINT_NAME, branch_checkpoint, save_checkpoint

    if check_scale(scale) == "smoke":
        raise ValueError("smoke runs keep no checkpoints, so they cannot branch; use quick or paper")
    src_module, src_job, src_run = _job_at(source, scale, source_index, source_overrides)
    dst_module, dst_job, dst_run = _job_at(target, scale, target_index, target_overrides)
    src_name, dst_name = src_module.NAME, dst_module.NAME
    if src_job.seed != dst_job.seed:
        raise ValueError(f"cannot branch seed {dst_job.seed} from seed {src_job.seed}")
    src_key, dst_key = src_run.key(), dst_run.key()
    differ = [k for k in src_key if k not in ("train", "extra") and src_key[k] != dst_key[k]]
    if differ:
        raise ValueError(f"cannot branch {dst_name} job {target_index} ({dst_job.label}) from {src_name} job "
                         f"{source_index} ({src_job.label}): the runs differ in {differ} "
                         f"({[src_key[k] for k in differ]} vs {[dst_key[k] for k in differ]})")
    checkpoint = Path(checkpoint)
    src_dir = Path(_checkpoint_dir(src_name, scale, src_job))
    if checkpoint.resolve().parent != src_dir.resolve():
        raise ValueError(f"{str(checkpoint)!r} is not in the checkpoint folder of {src_name} job {source_index} "
                         f"({src_dir})")
    ckpt = torch.load(checkpoint, weights_only=False)
    seed = int(src_job.seed)
    src_schedule = config_key(replace(src_run.train, seed=seed))
    if ckpt["config"] != src_schedule:
        raise ValueError(f"{str(checkpoint)!r} was written with schedule {ckpt['config']}, not {src_name} job "
                         f"{source_index}'s {src_schedule}")
    dst_train = replace(dst_run.train, seed=seed)
    eval_state = None
    if ckpt["config"]["eval_episodes"] and not dst_train.eval_episodes:
        with torch.random.fork_rng(devices=[]):  # agents seed torch's global generator when built
            fresh, _ = make_agent(dst_run.algo, dst_run.make_env(), seed=seed, config=dst_run.agent)
        keys = getattr(type(fresh), "EVAL_ONLY_STATE", None)
        if keys is not None:
            state = fresh.state_dict()
            eval_state = {k: state[k] for k in keys}
    out = branch_checkpoint(ckpt, dst_train, eval_only_state=eval_state)
    out["branched_from"] = {"experiment": src_name, "scale": scale, "job": src_job.label, "seed": seed,
                            "config": src_job.sha, "step": int(ckpt["step"])}
    path = Path(_checkpoint_dir(dst_name, scale, dst_job)) / CHECKPOINT_NAME
    if path.exists():
        raise ValueError(f"{dst_name} job {target_index} already has a checkpoint ({path}); delete it to branch again")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, path)
    return path


def _job_at(spec: str | ModuleType, scale: str, index: int, overrides: Mapping[str, Any] | None
            ) -> tuple[ModuleType, Job, Run]:
    """(module, job, Run) of job ``index`` of the experiment's grid; one clear error for an index out of range."""
    module = get_experiment(spec)
    jobs, runs = jobs_of(module, experiment_config(module, scale, overrides))
    if not 0 <= index < len(jobs):
        raise ValueError(f"job index {index} out of range; {module.NAME} [{scale}] has jobs 0..{len(jobs) - 1}")
    return module, jobs[index], runs[jobs[index].label]


def _checkpoint_dir(name: str, scale: str, job: Job) -> str | None:
    """``build/checkpoints/<experiment>/<scale>/<label>__seed<seed>__<config hash>/``; smoke never checkpoints.

    The config hash keeps a run whose resolved config changed from resuming the old run's checkpoint."""
    if scale == "smoke":
        return None
    return str(build_dir() / "checkpoints" / name / scale / f"{job.store_name().removesuffix('.nc')}__{job.sha[:12]}")


__all__ = ["EXPERIMENTS", "Run", "RunContext", "branch_job", "check_choices", "choose_executor", "choose_threads",
           "experiment_config", "get_experiment", "jobs_of", "run_experiment", "run_or_pending", "run_single"]
