"""How far lmcollapse 0.4.0's hand-written Student-t (Simpson's rule over a tangent substitution) was from
scipy.stats, which lmcollapse.analysis.stats now calls: the largest absolute difference of the tail probability
P(T > t) over t in [-8, 8] and of the quantiles at 0.9, 0.95, 0.975 and 0.995, per degrees of freedom.

    python benchmarks/student_t_accuracy.py     # from the repository (reads 0.4.0's stats.py from git)

df = n - 1 for n seeds: intervals need 3 seeds (df >= 2); the early warning's paired t-test also runs on 2.
"""
from __future__ import annotations

import platform
import subprocess
import types

import numpy as np
from scipy import stats

OLD = "efcdf06:src/lmcollapse/stats.py"  # the last commit with the hand-written version


def main() -> None:
    old = types.ModuleType("stats_0_4_0")
    exec(subprocess.run(["git", "show", OLD], capture_output=True, text=True, check=True).stdout, old.__dict__)
    print(f"machine: {platform.processor() or platform.machine()} (the differences are arithmetic, not timing)")
    print(f"{'df':>3}  {'max |sf diff|':>13}  {'max |quantile diff|':>19}")
    for df in (1, 2, 3, 5, 9, 29):
        sf = max(abs(old.t_sf(t, df) - stats.t.sf(t, df)) for t in np.linspace(-8, 8, 81))
        q = max(abs(old.t_quantile(p, df) - stats.t.ppf(p, df)) for p in (0.9, 0.95, 0.975, 0.995))
        print(f"{df:>3}  {sf:>13.1e}  {q:>19.1e}")


if __name__ == "__main__":
    main()
