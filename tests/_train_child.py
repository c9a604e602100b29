"""Run by test_train.py in a subprocess that gets SIGKILLed mid-run (not a test module itself)."""

import sys
import time

from mdrl_lib.agents.random_agent import UniformRandomAgent
from mdrl_lib.envs import make_env
from mdrl_lib.train import TrainConfig, train

CONFIG = TrainConfig(total_steps=3000, eval_every=500, eval_episodes=2, checkpoint_every=250, seed=7)


def make():
    return make_env("Hopper-v5", max_episode_steps=200)


class SlowAgent(UniformRandomAgent):
    """Same numbers as the plain agent, slowed down so the parent can kill it mid-run."""

    def observe(self, *args):
        time.sleep(0.002)
        super().observe(*args)


if __name__ == "__main__":
    agent = SlowAgent(make().action_space, seed=7)
    train(make, agent, CONFIG, checkpoint_dir=sys.argv[1], progress=False)
