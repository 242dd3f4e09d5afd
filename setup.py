"""The one compiled part: ``bayes_unlearn._forget_kernel`` (see its source for what and why).

Optional: if it cannot be built (no C compiler), the package installs without it and forgets
by the numpy functions it mirrors. All other metadata is in pyproject.toml.
"""

import sys

from setuptools import Extension, setup

# no FMA contraction: the kernel reproduces numpy's rounding of the GPD profile
flags = [] if sys.platform == "win32" else ["-O3", "-fno-trapping-math", "-ffp-contract=off"]

setup(ext_modules=[Extension("bayes_unlearn._forget_kernel", ["src/bayes_unlearn/_forget_kernel.c"],
                             extra_compile_args=flags, optional=True)])
