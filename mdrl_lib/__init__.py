"""mdrl_lib: the library behind the mdrl notebooks (MaxDiff RL, diffusion-model MaxEnt RL, DIME).

Importing it registers the project's gymnasium environments under the ``mdrl/`` namespace, so
``gymnasium.make("mdrl/PointMass-v0")`` works after ``import mdrl_lib``.
"""

import mdrl_lib.envs.registration  # noqa: F401  (registers the mdrl/ gymnasium ids)
