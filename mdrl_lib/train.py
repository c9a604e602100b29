"""One training loop for every agent: act / observe / update, periodic evaluation, checkpoints, resume.

An agent is anything with the methods of :class:`Agent`. The loop owns the environments, the step
counter, evaluation, logging and checkpointing, so algorithms stay short and every agent gets exact
resume for free:

* **Determinism.** One ``seed`` reaches the training env (``reset(seed=)``), its action space, and the
  global Python/numpy/torch generators (:func:`mdrl_lib.utils.seed_everything`); agents seed their own
  generators from the seed they are built with. Evaluation episode *i* at step *t* resets its env with a
  seed derived from ``(seed, t, i)``, so evaluation never depends on the training history.
* **Checkpoint/resume.** Every ``checkpoint_every`` steps the loop writes ``<checkpoint_dir>/last.pt``
  atomically: agent state, the full environment state (:mod:`mdrl_lib.envs.state`), the current
  observation and episode counters, the global RNG states and everything logged so far. A run that is
  killed (even with SIGKILL) and started again with the same arguments continues from there and returns
  the same Dataset as an uninterrupted run.

The result is an ``xarray.Dataset`` with dimension ``step`` (evaluation points ``0, eval_every, ...``):
``eval_return(step, eval_episode)``, ``eval_length``, ``train_return(step)`` (mean return of training
episodes finished since the previous evaluation; NaN if none), ``train_episodes(step)`` (cumulative), one
variable per update metric (mean over the interval), and per training episode ``episode_return(episode)``
and ``episode_end_step(episode)``.

**Single-shot mode** (``TrainConfig.single_shot``; the MaxDiff paper's ``--singleshot``,
docs/methods/maxdiff.md §2.6): one deployment of ``total_steps`` steps from one ``reset``, never reset again.
``terminated``/``truncated`` are ignored — as in the authors' code, which ignores ``done`` in this mode, the
agent is told ``terminated=False, truncated=False`` for every transition (so a model-based agent bootstraps
through every step and stores ``done = 0``; for the Swimmer and HalfCheetah, which never terminate, this is
also the true flag). The environment must have no time limit shorter than the run (build it with
``max_episode_steps=-1``, gymnasium's "no ``TimeLimit``", or a limit >= ``total_steps``; a shorter one is an
error). Each consecutive ``chunk`` of steps (1000, as the authors log) counts as one "episode":
``episode_return`` is the chunk's reward sum and ``episode_end_step`` its last step (a trailing partial chunk
is not logged). There are no evaluation episodes (``eval_episodes`` must be 0); ``eval_every`` only sets the
rows of ``train_return``/metrics. The final state is kept: ``final_obs(obs_dim)``, the last observation, and
for MuJoCo environments ``final_qpos(qpos_dim)`` (the paper's "final x" is ``final_qpos[0]``, the root x).
Checkpoints and resume work as for episodic runs.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import random
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch
import xarray as xr
from tqdm import tqdm

from mdrl_lib.envs.state import get_env_state, set_env_state
from mdrl_lib.utils import canonical_json, flush_denormals, seed_everything

CHECKPOINT_NAME = "last.pt"


@runtime_checkable
class Agent(Protocol):
    """What the loop needs from an agent.

    ``act(obs, deterministic)`` returns an action for one observation (numpy, shape of the action space);
    ``observe(...)`` receives each transition; ``update()`` runs the agent's learning for one environment
    step (it decides itself how many gradient steps that means) and returns scalar metrics to log;
    ``state_dict()`` / ``load_state_dict()`` capture *everything* needed to continue bit-for-bit
    (networks, optimisers, replay buffer, the agent's own RNGs).

    Optional: ``on_episode_start(training: bool)`` is called before each episode (e.g. to clear an MPPI
    warm start).
    """

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray: ...

    def observe(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
                terminated: bool, truncated: bool) -> None: ...

    def update(self) -> Mapping[str, float]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class TrainConfig:
    """Schedule of one training run (all counts are environment steps)."""

    total_steps: int
    eval_every: int
    eval_episodes: int = 5
    checkpoint_every: int | None = None  # default: eval_every; 0 disables checkpoints
    learning_starts: int = 0  # update() is called only after this many steps
    seed: int = 0
    # evaluation calls act(obs, deterministic=eval_deterministic). The diffusion-MaxEnt protocol samples (False).
    # DIME's experiment passes True, which marks the calls as evaluation (no warm-up randomness) while its agent
    # still draws a fresh diffusion sample: it has no deterministic mode (see mdrl_lib.agents.dime).
    eval_deterministic: bool = True
    # Fields added after schema 2 (NEW_TRAIN_FIELDS: left out of config_key() while at their default).
    single_shot: bool = False  # one deployment, no resets, chunk sums as "episodes" (module docstring)
    chunk: int = 1000  # single-shot: steps per logged chunk return (the authors log every 1000 steps)

    def __post_init__(self):
        for name in ("total_steps", "eval_every", "chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_episodes < 0:
            raise ValueError(f"eval_episodes must be >= 0, got {self.eval_episodes}")
        if self.checkpoint_every is not None and self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0 or None, got {self.checkpoint_every}")
        if self.single_shot and self.eval_episodes:
            raise ValueError(f"a single-shot run has no evaluation episodes (the authors' single-shot mode has "
                             f"none): set eval_episodes=0, got {self.eval_episodes}")
        if not self.single_shot and self.chunk != NEW_TRAIN_FIELDS["chunk"]:
            raise ValueError(f"chunk applies to single-shot runs only (single_shot=True), got chunk={self.chunk}")

    @property
    def checkpoint_interval(self) -> int:
        return self.eval_every if self.checkpoint_every is None else self.checkpoint_every


#: TrainConfig fields added after results schema 2, with their defaults. :func:`config_key` leaves each out while it
#: is at its default, so every run stored, cached or checkpointed before the field existed keeps its key.
NEW_TRAIN_FIELDS: dict[str, Any] = {"single_shot": False, "chunk": 1000}


def config_key(config: TrainConfig) -> dict[str, Any]:
    """``dataclasses.asdict(config)`` without the :data:`NEW_TRAIN_FIELDS` that are at their default.

    The one plain-dict form of a schedule: the experiments' cache key (:meth:`mdrl_lib.experiments.Run.key`), the
    config a checkpoint is written with and checked against, and the ``train_config`` attribute of the Dataset.
    """
    out = dataclasses.asdict(config)
    for name, default in NEW_TRAIN_FIELDS.items():
        if out[name] == default:
            del out[name]
    return out


def eval_seed(seed: int, step: int, episode: int) -> int:
    """Reset seed of evaluation episode ``episode`` at training step ``step`` (independent of history)."""
    return int(np.random.SeedSequence([seed, step, episode, 0xE7A1]).generate_state(1)[0])


@flush_denormals()
def evaluate(agent: Agent, env: gym.Env, episodes: int, *, seed: int, step: int,
             deterministic: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Run ``episodes`` full evaluation episodes; return (returns, lengths), each shape ``(episodes,)``."""
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes, dtype=np.int64)
    for i in range(episodes):
        if hasattr(agent, "on_episode_start"):
            agent.on_episode_start(training=False)
        obs, _ = env.reset(seed=eval_seed(seed, step, i))
        done = False
        while not done:
            obs, r, term, trunc, _ = env.step(agent.act(obs, deterministic=deterministic))
            returns[i] += float(r)
            lengths[i] += 1
            done = term or trunc
    return returns, lengths


def _rng_states() -> dict[str, Any]:
    out = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def _set_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a killed writer never leaves a partial checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ckpt.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Log:
    """Everything the loop records, in a picklable form."""

    def __init__(self):
        self.eval_steps: list[int] = []
        self.eval_returns: list[np.ndarray] = []
        self.eval_lengths: list[np.ndarray] = []
        self.train_returns: list[float] = []  # per eval row
        self.train_episodes: list[int] = []
        self.metrics: list[dict[str, float]] = []  # per eval row: mean over the interval
        self.episode_returns: list[float] = []
        self.episode_end_steps: list[int] = []
        # running accumulators for the current interval
        self.acc: dict[str, list[float]] = {}
        self.interval_returns: list[float] = []
        self.wall_time_s = 0.0  # training time summed over every process that worked on this run

    def close_row(self, step: int, returns: np.ndarray, lengths: np.ndarray) -> None:
        self.eval_steps.append(step)
        self.eval_returns.append(returns)
        self.eval_lengths.append(lengths)
        self.train_returns.append(float(np.mean(self.interval_returns)) if self.interval_returns else np.nan)
        self.train_episodes.append(len(self.episode_returns))
        self.metrics.append({k: float(s / n) for k, (s, n) in self.acc.items() if n})
        self.acc = {}
        self.interval_returns = []

    def to_dataset(self, n_eval: int) -> xr.Dataset:
        steps = np.asarray(self.eval_steps, dtype=np.int64)
        ev = np.stack(self.eval_returns) if self.eval_returns else np.zeros((0, n_eval))
        el = np.stack(self.eval_lengths) if self.eval_lengths else np.zeros((0, n_eval), dtype=np.int64)
        data = {
            "eval_return": (("step", "eval_episode"), ev.reshape(len(steps), n_eval)),
            "eval_length": (("step", "eval_episode"), el.reshape(len(steps), n_eval)),
            "train_return": ("step", np.asarray(self.train_returns, dtype=float)),
            "train_episodes": ("step", np.asarray(self.train_episodes, dtype=np.int64)),
            "episode_return": ("episode", np.asarray(self.episode_returns, dtype=float)),
            "episode_end_step": ("episode", np.asarray(self.episode_end_steps, dtype=np.int64)),
        }
        names = sorted({k for row in self.metrics for k in row})
        for name in names:
            data[name] = ("step", np.asarray([row.get(name, np.nan) for row in self.metrics], dtype=float))
        ds = xr.Dataset(data, coords={"step": steps, "eval_episode": np.arange(n_eval),
                                      "episode": np.arange(len(self.episode_returns))})
        ds["eval_return"].attrs["long_name"] = "evaluation episode return"
        ds["train_return"].attrs["long_name"] = "mean return of training episodes finished in the interval"
        return ds


#: TrainConfig fields that set only how long a run goes and when it evaluates and checkpoints: two runs that differ in
#: nothing else take the same training steps up to where the shorter one stops (:func:`branch_checkpoint`)
SCHEDULE_FIELDS = ("total_steps", "eval_every", "eval_episodes", "checkpoint_every")


def log_rows(config: TrainConfig, through: int) -> list[int]:
    """The steps, up to ``through``, at which a run with ``config`` evaluates and closes a log row: 0, every
    ``eval_every`` steps, and its last step."""
    stop = min(through, config.total_steps)
    rows = [0, *range(config.eval_every, stop + 1, config.eval_every)]
    if config.total_steps <= through and rows[-1] != config.total_steps:
        rows.append(config.total_steps)
    return rows


def branch_checkpoint(ckpt: dict[str, Any], config: TrainConfig, *,
                      eval_only_state: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The checkpoint a run with ``config`` writes at step ``ckpt["step"]``, made from ``ckpt``: the checkpoint of a
    run with the same agent, environment and seed (the caller's check: :func:`mdrl_lib.experiments.branch_job`)
    whose schedule differs from ``config`` only in :data:`SCHEDULE_FIELDS`. :func:`train` then resumes from it, so
    a longer run continues a shorter one, and a shorter one starts where a longer one passed its last step.

    Training never reads those fields: every step acts, observes and updates the same way, and an evaluation uses
    its own environment (reset from :func:`eval_seed`). What can differ is the log and the agent's evaluation
    state, so one of these must hold up to the step (else ``ValueError`` saying which):

    * both runs evaluated at the same steps with the same number of episodes: the rows are kept as they are;
    * ``config`` runs no evaluation episodes (``eval_episodes = 0``), at the source's evaluation steps (plus,
      possibly, a row at the step itself, closed here as the loop would), and the source's evaluations were
      deterministic (``eval_deterministic``): the rows keep their training returns and losses but no episodes,
      and ``eval_only_state`` — the entries of the agent's ``state_dict`` that only its
      evaluation reads and writes (``EVAL_ONLY_STATE`` of the agent class), taken from a fresh agent of the same
      seed — replace the source's, which its evaluations advanced.

    The checkpoint keeps the source's wall time (its training up to the step, evaluations included) and records
    ``branched_from``: the source's schedule and the step, which :func:`train` returns as the Dataset attribute
    ``branched_from``.
    """
    src = dict(ckpt["config"])
    dst = config_key(config)
    step = int(ckpt["step"])
    differ = sorted(k for k in set(src) | set(dst) if k not in SCHEDULE_FIELDS and src.get(k) != dst.get(k))
    if differ:
        raise ValueError(f"cannot branch: the runs' schedules differ in {differ} (source "
                         f"{[src.get(k) for k in differ]}, target {[dst.get(k) for k in differ]}); only "
                         f"{list(SCHEDULE_FIELDS)} may differ")
    if step > config.total_steps:
        raise ValueError(f"cannot branch at step {step}: the target run stops at total_steps {config.total_steps}")
    log = copy.deepcopy(ckpt["log"])
    rows, want = list(log.eval_steps), log_rows(config, step)
    close_here = want[-1] == step and rows == want[:-1]
    if rows != want and not (close_here and config.eval_episodes == 0):
        raise ValueError(f"cannot branch at step {step}: the source evaluated at steps {rows}, the target would at "
                         f"{want}; they must agree (the target may add a row at the step only without episodes)")
    agent = dict(ckpt["agent"])
    if config.eval_episodes != src["eval_episodes"]:
        if config.eval_episodes != 0:
            raise ValueError(f"cannot branch from a run with {src['eval_episodes']} evaluation episodes to one with "
                             f"{config.eval_episodes}: the target's episodes before step {step} were never run")
        if src["eval_episodes"] and not config.eval_deterministic:
            raise ValueError("cannot branch from a run that evaluated to one that does not when evaluation acts "
                             "stochastically (eval_deterministic=False): its draws may share the training generator")
        if src["eval_episodes"] and eval_only_state is None:
            raise ValueError("cannot branch from a run that evaluated to one that does not without the agent's "
                             "evaluation-only state (eval_only_state; the agent class's EVAL_ONLY_STATE)")
        agent.update(eval_only_state or {})
        log.eval_returns = [np.zeros(0) for _ in rows]
        log.eval_lengths = [np.zeros(0, dtype=np.int64) for _ in rows]
    if close_here:
        log.close_row(step, np.zeros(0), np.zeros(0, dtype=np.int64))
    return {**ckpt, "config": dst, "agent": agent, "log": log,
            "branched_from": {"config": src, "step": step, **({"branched_from": ckpt["branched_from"]}
                                                               if "branched_from" in ckpt else {})}}


def _check_no_time_limit(env: gym.Env, total_steps: int) -> None:
    """ValueError if a ``TimeLimit`` in ``env``'s wrapper chain would end a single-shot run before ``total_steps``."""
    layer = env
    while layer is not None:
        if isinstance(layer, gym.wrappers.TimeLimit) and layer._max_episode_steps < total_steps:
            raise ValueError(f"a single-shot run of {total_steps} steps needs an environment without a shorter time "
                             f"limit, but it has TimeLimit({layer._max_episode_steps}); build it with "
                             f"max_episode_steps=-1 (no TimeLimit) or >= total_steps")
        layer = getattr(layer, "env", None)


def _final_state(env: gym.Env, obs: np.ndarray) -> dict[str, np.ndarray]:
    """The state a single-shot run ends in: the last observation and, for MuJoCo, ``qpos`` (root x first)."""
    out = {"final_obs": np.asarray(obs, dtype=np.float64).ravel().copy()}
    data = getattr(env.unwrapped, "data", None)
    if data is not None and hasattr(data, "qpos"):
        out["final_qpos"] = np.asarray(data.qpos, dtype=np.float64).copy()
    return out


@flush_denormals()  # subnormal numbers slow CPU arithmetic ~15-30x: see flush_denormals
def train(make_env: Callable[[], gym.Env], agent: Agent, config: TrainConfig, *,
          checkpoint_dir: str | Path | None = None, progress: bool = True, desc: str | None = None,
          timing: dict[str, float] | None = None) -> xr.Dataset:
    """Train ``agent`` on environments built by ``make_env`` and return the run's Dataset.

    ``make_env`` is called twice (training env and evaluation env; once in single-shot mode, which has no
    evaluation). With ``checkpoint_dir`` set, the run
    resumes from ``<checkpoint_dir>/last.pt`` when it exists (same config required) and writes it every
    ``config.checkpoint_interval`` steps. See the module docstring for the Dataset's variables. ``timing``, if
    given, receives ``wall_time_s``: the run's training time summed over every process that worked on it
    (kept in the checkpoint, so a resumed run reports all of it).
    """
    if not isinstance(agent, Agent):
        missing = [m for m in ("act", "observe", "update", "state_dict", "load_state_dict")
                   if not callable(getattr(agent, m, None))]
        raise TypeError(f"{type(agent).__name__} is not an Agent: missing {missing}")
    single = config.single_shot
    env = make_env()
    if single:
        _check_no_time_limit(env, config.total_steps)
    eval_env = None if single else make_env()
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    cfg_dict = config_key(config)

    if ckpt_path is not None and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, weights_only=False)
        if ckpt["config"] != cfg_dict:
            raise ValueError(f"checkpoint {str(ckpt_path)!r} was written by a run with config {ckpt['config']}, "
                             f"not {cfg_dict}; delete it or choose another checkpoint_dir")
        agent.load_state_dict(ckpt["agent"])
        set_env_state(env, ckpt["env"])
        obs, step, ep_return, ep_len, log = ckpt["obs"], ckpt["step"], ckpt["ep_return"], ckpt["ep_len"], ckpt["log"]
        _set_rng_states(ckpt["rng"])
        branched_from = ckpt.get("branched_from")
    else:
        seed_everything(config.seed)
        obs, _ = env.reset(seed=config.seed)
        env.action_space.seed(config.seed)
        if eval_env is not None:
            eval_env.action_space.seed(config.seed + 1)
        if hasattr(agent, "on_episode_start"):
            agent.on_episode_start(training=True)
        step, ep_return, ep_len, log = 0, 0.0, 0, _Log()
        branched_from = None

    def run_eval(at: int) -> None:
        r, n = evaluate(agent, eval_env, config.eval_episodes, seed=config.seed, step=at,
                        deterministic=config.eval_deterministic)
        log.close_row(at, r, n)

    t_start, wall_before = time.perf_counter(), getattr(log, "wall_time_s", 0.0)

    def timed_log() -> _Log:
        log.wall_time_s = wall_before + time.perf_counter() - t_start
        return log

    if not log.eval_steps:
        run_eval(0)
    bar = tqdm(total=config.total_steps, initial=step, desc=desc, disable=not progress, mininterval=2.0,
               dynamic_ncols=True, leave=False)
    try:
        while step < config.total_steps:
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            if single:  # done is ignored: the deployment never ends before total_steps (module docstring)
                terminated = truncated = False
            agent.observe(obs, action, float(reward), next_obs, bool(terminated), bool(truncated))
            step += 1
            ep_return += float(reward)
            ep_len += 1
            if step > config.learning_starts:
                for k, v in (agent.update() or {}).items():
                    s, n = log.acc.get(k, (0.0, 0))
                    log.acc[k] = (s + float(v), n + 1)
            if single:
                if ep_len == config.chunk:  # one chunk sum per `chunk` steps, logged as an "episode"
                    log.episode_returns.append(ep_return)
                    log.episode_end_steps.append(step)
                    log.interval_returns.append(ep_return)
                    ep_return, ep_len = 0.0, 0
                obs = next_obs
            elif terminated or truncated:
                log.episode_returns.append(ep_return)
                log.episode_end_steps.append(step)
                log.interval_returns.append(ep_return)
                obs, _ = env.reset()
                ep_return, ep_len = 0.0, 0
                if hasattr(agent, "on_episode_start"):
                    agent.on_episode_start(training=True)
            else:
                obs = next_obs
            if step % config.eval_every == 0 or step == config.total_steps:
                run_eval(step)
                if config.eval_episodes:
                    bar.set_postfix(eval_return=f"{log.eval_returns[-1].mean():.1f}", refresh=False)
                elif log.episode_returns:
                    bar.set_postfix(last_return=f"{log.episode_returns[-1]:.1f}", refresh=False)
            if ckpt_path is not None and config.checkpoint_interval and (
                    step % config.checkpoint_interval == 0 or step == config.total_steps):
                save_checkpoint({"config": cfg_dict, "agent": agent.state_dict(), "env": get_env_state(env),
                                 "obs": obs, "step": step, "ep_return": ep_return, "ep_len": ep_len,
                                 "log": timed_log(), "rng": _rng_states(),
                                 **({"branched_from": branched_from} if branched_from is not None else {})}, ckpt_path)
            bar.update(1)
        final = _final_state(env, obs) if single else {}
    finally:
        bar.close()
        env.close()
        if eval_env is not None:
            eval_env.close()
    ds = log.to_dataset(config.eval_episodes)
    for name, values in final.items():
        ds[name] = (name.replace("final_", "") + "_dim", values)
    ds.attrs["train_config"] = canonical_json(cfg_dict)
    if branched_from is not None:
        ds.attrs["branched_from"] = canonical_json(branched_from)
    if timing is not None:
        timing["wall_time_s"] = timed_log().wall_time_s  # all of this run's training, across resumes
    return ds
