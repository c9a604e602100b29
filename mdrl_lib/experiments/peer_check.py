"""Our SAC and PPO against Stable-Baselines3's with the same hyperparameters (issue 14: "sound baselines").

Each run trains one implementation on one task: ``impl`` ∈ {``mdrl``, ``sb3``} × ``algo`` ∈ {``SAC``, ``PPO``}.
Ours runs through :func:`mdrl_lib.train.train`, SB3's through its own ``model.learn`` (so its loop, its replay
buffer and its normalisation are checked too), and both are evaluated by the same function
(:func:`mdrl_lib.train.evaluate`) on the same evaluation episodes (same reset seeds), deterministically (the
mean action, SB3's ``EvalCallback`` protocol), at the same steps. Result: ``data/peer_check/<scale>.nc`` with
dims ``(env, algo, impl, seed, step, eval_episode)``.

Settings. SAC: the library's :class:`~mdrl_lib.agents.sac.SACConfig` defaults with the uniform warm-up shortened to
2 000 steps (actor lr 3e-4, critic and temperature lr 1e-3, initial α 1, 256×256, batch 256, τ 0.005, one
gradient step per env step from step 2 000). SB3 has one learning rate, so its critic and temperature optimisers
are set to ours after each of its learning-rate updates (:class:`_SB3SAC`). PPO: :class:`~mdrl_lib.agents.ppo.PPOConfig`
defaults (CleanRL's: 2048 steps per rollout, 10 epochs of 32 minibatches, lr 3e-4, 64×64 tanh, observation and
reward normalisation); SB3's PPO with the same numbers and ``VecNormalize`` (clip 10, γ 0.99). What the two PPOs
still do differently (not hyperparameters): SB3 clips the value prediction when ``clip_range_vf`` is set and
takes no max of the clipped and unclipped value losses, so ``clip_range_vf`` is left off there; CleanRL-style
normalisation updates its statistics per step, VecNormalize per step too (both as their users run them).

Stable-Baselines3 is a test/benchmark-only dependency (``pip install -e '.[dev]'``); ``benchmarks/peer_check.py``
prints the comparison, notebook 20 draws it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from mdrl_lib.agents import make_agent
from mdrl_lib.experiments import Run, RunContext, check_choices
from mdrl_lib.stats import mean_of_last_evaluations, stratified_bootstrap_ci
from mdrl_lib.train import TrainConfig, evaluate

NAME = "peer_check"
ALGOS = ("SAC", "PPO")
IMPLS = ("mdrl", "sb3")
SB3_VERSION = "2.9.2"

#: quick: SAC 15 k steps on InvertedPendulum (the reference balances it within 6–10 k) and on Hopper (where SAC leaves
#: the random level within 10 k), PPO 50 k on both; 5 seeds. Planned from per-step costs measured on this 2-core CPU
#: (one core per run): our SAC ≈ 10 ms and SB3's ≈ 14 ms per step, PPO ≈ 1–2 ms for both —
#: 5 seeds × 2 envs × (15 k × 24 ms + 50 k × 3 ms) ≈ 1.4 core-hours; each run's time is in the data file.
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"envs": ["InvertedPendulum-v5"], "algos": list(ALGOS), "impls": list(IMPLS), "seeds": [0],
              "steps": {"SAC": 600, "PPO": 512}, "eval_every": {"SAC": 300, "PPO": 256}, "eval_episodes": 1,
              "max_episode_steps": 100, "sac": {"hidden": [16, 16], "batch_size": 32, "random_steps": 200},
              "ppo": {"n_steps": 128, "n_minibatches": 4, "n_epochs": 2, "hidden": [16, 16]}},
    "quick": {"envs": ["InvertedPendulum-v5", "Hopper-v5"], "algos": list(ALGOS), "impls": list(IMPLS),
              "seeds": [0, 1, 2, 3, 4], "steps": {"SAC": 15_000, "PPO": 50_000},
              "eval_every": {"SAC": 1000, "PPO": 5000}, "eval_episodes": 5, "max_episode_steps": 1000,
              "sac": {"random_steps": 2000}, "ppo": {}},
    "paper": {"envs": ["InvertedPendulum-v5", "Hopper-v5", "HalfCheetah-v5"], "algos": list(ALGOS),
              "impls": list(IMPLS), "seeds": list(range(10)), "steps": {"SAC": 300_000, "PPO": 1_000_000},
              "eval_every": {"SAC": 10_000, "PPO": 20_480}, "eval_episodes": 10, "max_episode_steps": 1000,
              "sac": {"random_steps": 5000}, "ppo": {}},
}


def grid(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"env": env, "algo": algo, "impl": impl}
            for env in cfg["envs"] for algo in cfg["algos"] for impl in cfg["impls"]]


def validate(cfg: dict[str, Any]) -> None:
    check_choices("algorithm", cfg["algos"], ALGOS)
    check_choices("implementation", cfg["impls"], IMPLS)


def resolve(setting: dict[str, Any], cfg: dict[str, Any]) -> Run:
    """Both implementations get the same resolved config (ours); the SB3 version is part of the key."""
    algo = setting["algo"]
    sac = algo == "SAC"
    schedule = TrainConfig(total_steps=cfg["steps"][algo], eval_every=cfg["eval_every"][algo],
                           eval_episodes=cfg["eval_episodes"], eval_deterministic=True,
                           learning_starts=cfg["sac"].get("random_steps", 0) if sac else 0)
    extra = {"impl": setting["impl"], **({"sb3": SB3_VERSION} if setting["impl"] == "sb3" else {})}
    return Run.of(algo, setting["env"], schedule, max_episode_steps=cfg["max_episode_steps"], extra=extra,
                  **cfg["sac" if sac else "ppo"])


def run_one(run: Run, seed: int, ctx: RunContext) -> xr.Dataset:
    if run.extra["impl"] == "mdrl":
        agent, _ = make_agent(run.algo, run.make_env(), seed=seed, config=run.agent)
        return ctx.train(run, agent, seed).drop_dims("episode")[["eval_return"]]
    return _train_sb3(run, seed)


# ----- Stable-Baselines3 ---------------------------------------------------------------------------------------

def _sb3():
    try:
        import stable_baselines3
    except ImportError as e:
        raise ImportError("the peer check needs Stable-Baselines3 (a test/benchmark-only extra): "
                          f"pip install stable-baselines3=={SB3_VERSION}, or pip install -e '.[dev]'") from e
    if stable_baselines3.__version__ != SB3_VERSION:
        raise ImportError(f"the peer check is pinned to stable-baselines3=={SB3_VERSION}, found "
                          f"{stable_baselines3.__version__}")
    return stable_baselines3


class _Adapter:
    """SB3 model → :func:`mdrl_lib.train.evaluate`'s agent (``act(obs, deterministic)``)."""

    def __init__(self, model, vecnorm=None):
        self.model, self.vecnorm = model, vecnorm

    def act(self, obs, deterministic: bool = True):
        if self.vecnorm is not None:
            obs = self.vecnorm.normalize_obs(obs)
        return self.model.predict(obs, deterministic=deterministic)[0]


def _train_sb3(run: Run, seed: int) -> xr.Dataset:
    import torch

    sb3 = _sb3()  # only training needs it: reading the committed data does not
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    tc, c = run.train, run.agent
    env = DummyVecEnv([run.make_env])
    env.seed(seed)
    if run.algo == "SAC":
        model = _sb3_sac_class(sb3)(
            "MlpPolicy", env, learning_rate=c.lr, buffer_size=c.buffer_size, learning_starts=c.random_steps,
            batch_size=c.batch_size, tau=c.tau, gamma=c.gamma, train_freq=1, gradient_steps=1,
            ent_coef=f"auto_{c.alpha}" if c.autotune else c.alpha,
            target_entropy="auto" if c.target_entropy is None else c.target_entropy,
            policy_kwargs={"net_arch": list(c.hidden)}, seed=seed, device="cpu", verbose=0)
        model.critic_lr, model.alpha_lr = c.critic_lr, c.alpha_lr
        vecnorm = None
    else:
        env = vecnorm = VecNormalize(env, norm_obs=c.norm_obs, norm_reward=c.norm_reward, clip_obs=10.0,
                                     clip_reward=10.0, gamma=c.gamma)
        model = sb3.PPO("MlpPolicy", env, learning_rate=c.lr, n_steps=c.n_steps,
                        batch_size=c.n_steps // c.n_minibatches, n_epochs=c.n_epochs, gamma=c.gamma,
                        gae_lambda=c.gae_lambda, clip_range=c.clip, normalize_advantage=c.norm_adv, ent_coef=0.0,
                        vf_coef=c.vf_coef, max_grad_norm=c.max_grad_norm,
                        policy_kwargs={"net_arch": {"pi": list(c.hidden), "vf": list(c.hidden)},
                                       "activation_fn": {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[c.act],
                                       "log_std_init": 0.0},
                        seed=seed, device="cpu", verbose=0)
    eval_env = run.make_env()
    adapter = _Adapter(model, vecnorm)
    steps, returns = [], []

    def do_eval(at: int) -> None:
        if vecnorm is not None:
            vecnorm.training = False
        r, _ = evaluate(adapter, eval_env, tc.eval_episodes, seed=seed, step=at, deterministic=True)
        if vecnorm is not None:
            vecnorm.training = True
        steps.append(at)
        returns.append(r)

    class Every(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % tc.eval_every == 0:
                do_eval(self.num_timesteps)
            return True

    do_eval(0)
    model.learn(total_timesteps=tc.total_steps, callback=Every())
    if steps[-1] != tc.total_steps:
        do_eval(tc.total_steps)
    eval_env.close()
    env.close()
    return xr.Dataset({"eval_return": (("step", "eval_episode"), np.array(returns))},
                      coords={"step": np.array(steps), "eval_episode": np.arange(tc.eval_episodes)})


def _sb3_sac_class(sb3):
    class _SB3SAC(sb3.SAC):
        """SB3's SAC with our per-optimiser learning rates (SB3 sets one lr on every optimiser each update)."""

        critic_lr: float
        alpha_lr: float

        def _update_learning_rate(self, optimizers):
            super()._update_learning_rate(optimizers)
            for opt, lr in ((self.critic.optimizer, self.critic_lr), (self.ent_coef_optimizer, self.alpha_lr)):
                if opt is not None:
                    for group in opt.param_groups:
                        group["lr"] = lr

    return _SB3SAC


# ----- summaries -------------------------------------------------------------------------------------------------

def final_returns(ds: xr.Dataset, last: int = 3) -> xr.DataArray:
    """Final return of each run: the mean deterministic evaluation return over its last ``last`` evaluations
    (one evaluation point is noisy — a balanced pendulum can fall once), ``(env, algo, impl, seed)``."""
    # SAC and PPO have their own evaluation steps
    return mean_of_last_evaluations(ds["eval_return"].mean("eval_episode"), "algo", last)


def comparison(ds: xr.Dataset, *, n_boot: int = 2000, seed: int = 0) -> list[dict[str, Any]]:
    """Per (env, algo): IQM over seeds of the final return (:func:`final_returns`) of ours and SB3's with 95 %
    stratified-bootstrap intervals, and whether ours is not worse (the intervals overlap or ours is higher)."""
    fr = final_returns(ds)
    rows = []
    for env in ds.env.values:
        for algo in ds.algo.values:
            row = {"env": str(env), "algo": str(algo)}
            for impl in ("mdrl", "sb3"):
                x = fr.sel(env=env, algo=algo, impl=impl).values
                x = x[~np.isnan(x)]
                point, lo, hi = stratified_bootstrap_ci(x[:, None], "iqm", n_boot=n_boot, rng=seed)
                row.update({f"{impl}_iqm": float(point), f"{impl}_lo": float(lo), f"{impl}_hi": float(hi),
                            f"{impl}_seeds": int(x.size)})
            row["not_worse"] = bool(row["mdrl_hi"] >= row["sb3_lo"])
            rows.append(row)
    return rows
