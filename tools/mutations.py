"""Mutation check of the RL losses (issue 14): flip one sign or min/mean choice at a time and run the tests.

Each mutation is an exact text substitution in one agent file of ``mdrl_lib/agents/`` and must apply exactly once.
For each one the script writes the mutant, runs that agent's test files and ``tests/test_losses.py`` with
``pytest -x -q`` (``OMP_NUM_THREADS=1``), then restores the file — in a ``finally``, so also on Ctrl-C — and checks
that its sha256 is the original's again. It prints a table, mutation → the test that caught it, or NOT caught,
and exits with status 1 when any mutation is not caught (or a test run errored).

By default the mutants are written into a scratch copy of ``mdrl_lib/`` and ``tests/`` under
``build/mutations/``, so that no one else using this checkout meanwhile (a notebook, an experiment) ever imports a
mutant; ``--in-place`` mutates the working tree itself. Before the mutations, the unmutated test files must pass.

    .venv/bin/python tools/mutations.py                  # every mutation (about 10 minutes on 2 cores)
    .venv/bin/python tools/mutations.py --list           # the mutations, without running anything
    .venv/bin/python tools/mutations.py --only dime diffppo   # mutations whose id contains any of these words
    .venv/bin/python tools/mutations.py --without-new    # only the agents' own test files (not test_losses.py)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEW_TESTS = "tests/test_losses.py"

#: the agents' own test files, run before ``tests/test_losses.py`` so that the table shows an existing test
#: whenever one catches the mutation
TESTS = {
    "sac.py": ["tests/test_sac.py"],
    "ppo.py": ["tests/test_ppo.py"],
    "wpo.py": ["tests/test_wpo.py"],
    "diff_sac.py": ["tests/test_diff_agents.py"],
    "diff_ppo.py": ["tests/test_diff_agents.py"],
    "diff_wpo.py": ["tests/test_diff_agents.py"],
    "dime.py": ["tests/test_dime.py"],
    "diffusion_policy.py": ["tests/test_diffusion_policy.py", "tests/test_diff_agents.py"],
}


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str  # in mdrl_lib/agents/
    old: str
    new: str
    what: str
    issue: bool = False  # listed in issue 14 as not caught by `make test`


MUTATIONS = [
    # --- DIME (docs/methods/dime.md §1.4) -------------------------------------------------------------------
    Mutation("dime-actor-entropy-sign", "dime.py", "return (alpha * cost - q.mean(0)).mean()",
             "return (-alpha * cost - q.mean(0)).mean()", "DIME actor: sign of the entropy term α c", True),
    Mutation("dime-actor-mean-to-min", "dime.py", "return (alpha * cost - q.mean(0)).mean()",
             "return (alpha * cost - q.min(0).values).mean()", "DIME actor: mean of the two critics → min", True),
    Mutation("dime-temperature-total-cost", "dime.py",
             "temperature_loss(self.log_alpha, sample.c_run, self.target_cost)",
             "temperature_loss(self.log_alpha, sample.cost, self.target_cost)",
             "DIME temperature: total cost c_run + c_term instead of c_run", True),
    Mutation("dime-temperature-sign", "dime.py", "return -log_alpha.exp() * (c_run.detach().mean() - target)",
             "return log_alpha.exp() * (c_run.detach().mean() - target)", "DIME temperature: sign of the loss"),
    Mutation("dime-temperature-target-sign", "dime.py", "(c_run.detach().mean() - target)",
             "(c_run.detach().mean() + target)", "DIME temperature: sign of the target T"),
    Mutation("dime-actor-running-cost", "dime.py", "actor_loss(q, sample.cost, alpha)",
             "actor_loss(q, sample.c_run, alpha)", "DIME actor: running cost instead of the total cost"),
    Mutation("dime-target-entropy-sign", "dime.py", "(support - alpha * next_cost.unsqueeze(-1))",
             "(support + alpha * next_cost.unsqueeze(-1))", "DIME critic target: sign of −α c'"),
    Mutation("dime-target-running-cost", "dime.py", "nxt.cost, alpha, cfg.gamma", "nxt.c_run, alpha, cfg.gamma",
             "DIME critic target: running cost instead of the total cost"),
    Mutation("dime-target-mean-to-first", "dime.py", "atoms.expand_as(next_probs), support).mean(0)",
             "atoms.expand_as(next_probs), support)[0]",
             "DIME critic target: first critic's projection instead of the mean of both"),
    Mutation("dime-critic-entropy-bonus-sign", "dime.py", "(ce + entropy_coef * neg_entropy)",
             "(ce - entropy_coef * neg_entropy)", "DIME critic loss: sign of the entropy bonus"),
    Mutation("dime-running-cost-jacobian-sign", "dime.py", "c_run = c_run - tanh_log_det_jacobian(x)",
             "c_run = c_run + tanh_log_det_jacobian(x)", "DIME running cost: sign of the tanh log-Jacobian"),
    # --- DiffPPO (docs/methods/diffmaxent.md §3.1) ----------------------------------------------------------
    Mutation("diffppo-reference-term-sign", "diff_ppo.py", "ref_term = -(c * ratio.detach() * log_p)",
             "ref_term = (c * ratio.detach() * log_p)", "DiffPPO: sign of the reference term", True),
    Mutation("diffppo-advantage-correction-sign", "diff_ppo.py", "a = adv + c * (ell_old - ell_now)",
             "a = adv - c * (ell_old - ell_now)", "DiffPPO: sign of the advantage correction c(ℓ_old − ℓ_θ)", True),
    Mutation("diffppo-reference-ratio-not-detached", "diff_ppo.py", "-(c * ratio.detach() * log_p)",
             "-(c * ratio * log_p)", "DiffPPO: ratio not held fixed in the reference term"),
    Mutation("diffppo-soft-reward-sign", "diff_ppo.py", "rewards = env_r.unsqueeze(1) * is_last - c * ell_old",
             "rewards = env_r.unsqueeze(1) * is_last + c * ell_old", "DiffPPO soft reward: sign of −cℓ"),
    Mutation("diffppo-discount-inside-chain", "diff_ppo.py",
             "discounts = torch.where(is_last > 0, env_disc.unsqueeze(1), 1.0)",
             "discounts = torch.where(is_last > 0, env_disc.unsqueeze(1), ppo.gamma)",
             "DiffPPO GAE: discounting inside the denoising chain"),
    # --- DiffSAC (docs/methods/diffmaxent.md §3.3) ----------------------------------------------------------
    Mutation("diffsac-temperature-sign", "diff_sac.py", "loss = loss + temperature_loss(",
             "loss = loss - temperature_loss(", "DiffSAC temperature: sign of the loss", True),
    Mutation("diffsac-target-ell-sign", "diff_sac.py", "q_next.squeeze(-1), ell[B:], alpha)",
             "q_next.squeeze(-1), -ell[B:], alpha)", "DiffSAC target: sign of ℓ", True),
    Mutation("diffsac-discount-inside-chain", "diff_sac.py", 'torch.where(last, gamma * b["not_done"], 1.0)',
             'torch.where(last, gamma * b["not_done"], gamma)',
             "DiffSAC: discounting inside the denoising chain", True),
    Mutation("diffsac-gamma-every-step", "diff_sac.py", 'soft_q_target(z["reward"], z["discount"], 1.0,',
             'soft_q_target(z["reward"], z["discount"], sac.gamma,',
             "DiffSAC target: γ at every diffusion step (on top of the env discount)"),
    Mutation("diffsac-prior-entropy-sign", "diff_sac.py", "self.K * ell[:B] - self.policy.prior_entropy()",
             "self.K * ell[:B] + self.policy.prior_entropy()",
             "DiffSAC temperature: sign of H(prior) in the entropy bound"),
    Mutation("diffsac-bound-without-K", "diff_sac.py", "log_pi_est = self.K * ell[:B]", "log_pi_est = ell[:B]",
             "DiffSAC temperature: one step's ℓ instead of K·ℓ in the bound"),
    Mutation("diffsac-actor-ell-sign", "diff_sac.py", "return actor_loss(q_pi, ell, alpha)",
             "return actor_loss(q_pi, -ell, alpha)", "DiffSAC actor: sign of ℓ"),
    Mutation("diffsac-target-online-critics", "diff_sac.py", "q_next = self.critic_target(",
             "q_next = self.critics(", "DiffSAC target: online critics instead of the Polyak targets"),
    # --- DiffWPO (docs/methods/diffmaxent.md §3.2) ----------------------------------------------------------
    Mutation("diffwpo-min-to-mean", "diff_wpo.py", ".squeeze(-1).min(0).values", ".squeeze(-1).mean(0)",
             "DiffWPO: min of the twin critics' ∇Q → mean"),
    Mutation("diffwpo-ell-sign", "diff_wpo.py", "(log_q - log_p).sum()", "(log_q + log_p).sum()",
             "DiffWPO: sign of log p in ℓ"),
    # --- SAC (Haarnoja et al. 2018b; v1 2018a) --------------------------------------------------------------
    Mutation("sac-target-min-to-mean", "sac.py", "q_next.min(0).values - alpha * log_pi_next",
             "q_next.mean(0) - alpha * log_pi_next", "SAC target: min of the twin target critics → mean"),
    Mutation("sac-target-entropy-sign", "sac.py", "q_next.min(0).values - alpha * log_pi_next",
             "q_next.min(0).values + alpha * log_pi_next", "SAC target: sign of −α log π'"),
    Mutation("sac-actor-entropy-sign", "sac.py", "return (alpha * log_pi - q.min(0).values).mean()",
             "return (-alpha * log_pi - q.min(0).values).mean()", "SAC actor: sign of α log π"),
    Mutation("sac-actor-min-to-mean", "sac.py", "return (alpha * log_pi - q.min(0).values).mean()",
             "return (alpha * log_pi - q.mean(0)).mean()", "SAC actor: min of the twin critics → mean"),
    Mutation("sac-temperature-sign", "sac.py", "return -(log_alpha.exp() * (log_pi.detach() + target_entropy))",
             "return (log_alpha.exp() * (log_pi.detach() + target_entropy))", "SAC temperature: sign of the loss"),
    Mutation("sac-temperature-target-sign", "sac.py", "(log_pi.detach() + target_entropy)",
             "(log_pi.detach() - target_entropy)", "SAC temperature: sign of the target entropy"),
    Mutation("sac-target-online-critics", "sac.py", "q_next = self.critic_target(", "q_next = self.critics(",
             "SAC v2 target: online critics instead of the Polyak targets"),
    Mutation("sac-target-current-log-pi", "sac.py", "nxt.log_prob, alpha)", "pi.log_prob, alpha)",
             "SAC v2 target: log π at s instead of s'"),
    Mutation("sac-v1-value-target-entropy-sign", "sac.py", "y_v = q_new - alpha * logp", "y_v = q_new + alpha * logp",
             "SAC v1 V target: sign of −α log π"),
    Mutation("sac-v1-value-target-min-to-mean", "sac.py",
             'q_new = self.critics(torch.cat([b["obs"], a], -1)).squeeze(-1).min(0).values',
             'q_new = self.critics(torch.cat([b["obs"], a], -1)).squeeze(-1).mean(0)',
             "SAC v1 V target: min of the twin critics → mean"),
    Mutation("sac-v1-actor-advantage-sign", "sac.py", "weight = (alpha * logp - (q_new - v))",
             "weight = (alpha * logp + (q_new - v))", "SAC v1 actor: sign of the advantage Q − V"),
    Mutation("sac-v1-actor-penalty-sign", "sac.py", "(logp * weight).mean() + cfg.policy_reg",
             "(logp * weight).mean() - cfg.policy_reg", "SAC v1 actor: sign of the mean/log-std penalty"),
    # --- PPO (Schulman et al. 2017) -------------------------------------------------------------------------
    Mutation("ppo-surrogate-min-to-max", "ppo.py", "loss = -torch.min(ratio * advantages",
             "loss = -torch.max(ratio * advantages", "PPO surrogate: min of clipped/unclipped → max"),
    Mutation("ppo-surrogate-sign", "ppo.py", "loss = -torch.min(ratio * advantages",
             "loss = torch.min(ratio * advantages", "PPO surrogate: sign of the loss"),
    Mutation("ppo-value-clip-max-to-min", "ppo.py", "torch.max((v - returns) ** 2, (v_clipped - returns) ** 2)",
             "torch.min((v - returns) ** 2, (v_clipped - returns) ** 2)", "PPO value loss: max → min"),
    Mutation("ppo-soft-reward-sign", "ppo.py", "rewards = rewards - cfg.entropy_coef * old_log_prob",
             "rewards = rewards + cfg.entropy_coef * old_log_prob", "PPO soft reward: sign of −c log π"),
    Mutation("ppo-gae-bootstrap-sign", "ppo.py", "(rewards + discounts * next_values - values)",
             "(rewards - discounts * next_values - values)", "PPO GAE: sign of γV(s') in the TD error"),
    # --- WPO (Pfau et al. 2025) -----------------------------------------------------------------------------
    Mutation("wpo-velocity-entropy-sign", "wpo.py", "velocity = (grad_q - alpha * score).detach()",
             "velocity = (grad_q + alpha * score).detach()", "WPO velocity: sign of −α ∇log π"),
    Mutation("wpo-loss-sign", "wpo.py", "return -(velocity * score).sum(-1)",
             "return (velocity * score).sum(-1)", "WPO loss: sign"),
    Mutation("wpo-kl-direction", "wpo.py", "torch.log(var / var_old) + (var_old + (mean_old - mean) ** 2) / var",
             "torch.log(var_old / var) + (var + (mean_old - mean) ** 2) / var_old",
             "trust region: forward KL(old ‖ new) → reverse"),
    Mutation("wpo-clip-condition", "wpo.py", "torch.where(kl.detach() < bound, surrogate",
             "torch.where(kl.detach() > bound, surrogate", "trust region: clipped mode's condition flipped"),
    Mutation("wpo-lagrange-sign", "wpo.py", "return -(log_lambda.exp() * (kl.detach().mean() - bound))",
             "return (log_lambda.exp() * (kl.detach().mean() - bound))", "trust region: sign of the λ loss"),
    Mutation("diffwpo-kl-times-K", "diff_wpo.py", "return self.K * gaussian_kl(", "return gaussian_kl(",
             "DiffWPO trust region: KL of one step not multiplied by K"),
    Mutation("wpo-min-to-mean", "wpo.py", "torch.tanh(u)], -1)).squeeze(-1).min(0).values",
             "torch.tanh(u)], -1)).squeeze(-1).mean(0)", "WPO agent: min of the twin critics' ∇Q → mean"),
    # --- the diffusion policy (docs/methods/diffmaxent.md §1.3, §1.4, §1.10) --------------------------------
    Mutation("policy-ell-sign", "diffusion_policy.py", "return self.log_q - self.log_p",
             "return self.log_q + self.log_p", "Diffusion policy: ℓ = log q + log p"),
    Mutation("policy-reference-drift-sign", "diffusion_policy.py",
             "return x_next - eta * x_next / self.prior_var, 2 * eta",
             "return x_next + eta * x_next / self.prior_var, 2 * eta",
             "Diffusion policy: sign of the reference kernel's drift"),
    Mutation("policy-prior-score-sign", "diffusion_policy.py", "mean = x + eta * (-x / self.prior_var",
             "mean = x + eta * (x / self.prior_var", "Diffusion policy: sign of the prior score in the kernel"),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scratch_tree() -> Path:
    """A copy of ``mdrl_lib/``, ``tests/`` and ``pyproject.toml`` under ``build/mutations/tree``."""
    tree = ROOT / "build" / "mutations" / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("mdrl_lib", "tests"):
        shutil.copytree(ROOT / name, tree / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def child_env(tree: Path) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
               MDRL_ROOT=str(ROOT), MDRL_BUILD=str(ROOT / "build" / "mutations" / "build"))
    env.pop("MDRL_RERUN", None)
    if tree != ROOT:
        env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def run_tests(tree: Path, files: list[str], timeout: float) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x", "-q", *files]
    p = subprocess.run(cmd, cwd=tree, env=child_env(tree), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def first_failure(output: str) -> str:
    m = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.M)
    return m.group(1) if m else "?"


def mutate_and_test(tree: Path, mut: Mutation, files: list[str], timeout: float) -> tuple[str, bool]:
    """Apply ``mut`` in ``tree``, run ``files``, restore the file; return (table cell, caught)."""
    path = tree / "mdrl_lib" / "agents" / mut.file
    original, digest, stat = path.read_bytes(), sha256(path), path.stat()
    text = original.decode()
    n = text.count(mut.old)
    if n != 1:
        raise SystemExit(f"mutation {mut.id}: the text {mut.old!r} occurs {n} times in {mut.file}, not once")
    try:
        path.write_text(text.replace(mut.old, mut.new))
        rc, out = run_tests(tree, files, timeout)
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        if sha256(path) != digest:
            raise SystemExit(f"could not restore {path}: its sha256 differs from the original's")
    if rc == 0:
        return "**NOT caught**", False
    if rc == 1:
        return first_failure(out), True
    tail = out.strip().splitlines()[-1] if out.strip() else ""
    return f"error (pytest exit {rc}): {tail}", False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", action="store_true", help="list the mutations and check that each applies once")
    ap.add_argument("--only", nargs="+", metavar="WORD", help="mutations whose id contains any of these words")
    ap.add_argument("--in-place", action="store_true", help="mutate this working tree, not a scratch copy")
    ap.add_argument("--without-new", action="store_true", help=f"do not run {NEW_TESTS}")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per pytest run (default 900)")
    args = ap.parse_args(argv)
    muts = [m for m in MUTATIONS if not args.only or any(w in m.id for w in args.only)]
    for m in muts:
        n = (ROOT / "mdrl_lib" / "agents" / m.file).read_text().count(m.old)
        if n != 1:
            raise SystemExit(f"mutation {m.id}: the text {m.old!r} occurs {n} times in {m.file}, not once")
    if args.list:
        for m in muts:
            print(f"{m.id:40s} {m.file:20s} {m.what}{'  [issue 14]' if m.issue else ''}")
        return 0
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill → KeyboardInterrupt → the finally restores

    def files_of(m: Mutation) -> list[str]:
        return TESTS[m.file] + ([] if args.without_new else [NEW_TESTS])

    tree = ROOT if args.in_place else scratch_tree()
    check = subprocess.run([sys.executable, "-c", "import mdrl_lib; print(mdrl_lib.__file__)"], cwd=tree,
                           env=child_env(tree), capture_output=True, text=True, check=True).stdout.strip()
    if not Path(check).is_relative_to(tree):
        raise SystemExit(f"the test runs would import mdrl_lib from {check}, not from {tree}")
    files = sorted({f for m in muts for f in files_of(m)})
    print(f"mutating {len(muts)} times in {tree}; baseline: {' '.join(files)}", flush=True)
    rc, out = run_tests(tree, files, args.timeout)
    if rc != 0:
        print(out[-4000:])
        raise SystemExit("the unmutated tests fail: fix them first")
    rows, missed = [], 0
    for i, m in enumerate(muts, 1):
        t0 = time.perf_counter()
        cell, caught = mutate_and_test(tree, m, files_of(m), args.timeout)
        missed += not caught
        rows.append((m, cell, time.perf_counter() - t0))
        print(f"[{i}/{len(muts)}] {m.id}: {cell} ({rows[-1][2]:.0f} s)", flush=True)
    print()
    print("| mutation | file | caught by |")
    print("|---|---|---|")
    for m, cell, _ in rows:
        print(f"| {m.what}{' (issue 14)' if m.issue else ''} | {m.file} | {cell} |")
    print(f"\n{len(rows) - missed} of {len(rows)} mutations caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
