"""Pure mathematics behind the theory notebooks (01–04): numpy/scipy only, unit-tested in tests/test_theory_*.

Modules
-------
ergodicity : autocorrelation, integrated autocorrelation time, effective sample size, OU and absorbing
    processes, SGD on correlated vs shuffled data (notebook 01).
gramian : continuous/discrete/time-varying controllability Gramians, the MaxDiff point mass, empirical
    Gramians of MuJoCo models (notebook 02).
entropy : Gaussian and path entropies, the sample-covariance log-det behind MaxDiff's bonus, maximum-entropy
    increment laws (notebook 03).
diffusion : Gaussian-mixture targets, a DIME/DiffMaxEnt-style diffusion policy chain, its entropy lower
    bound and its exact marginal on a grid (notebook 04).
"""

from mdrl_lib.theory import diffusion, entropy, ergodicity, gramian

__all__ = ["diffusion", "entropy", "ergodicity", "gramian"]
