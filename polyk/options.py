"""``polyk.Options``: every knob of ``generate``, validated in one place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .errors import OptionsError

TARGETS = ("c", "openmp")
SCHEDULERS = ("pluto", "isl", "identity")
FUSIONS = ("smart", "max", "none")


@dataclass(frozen=True)
class Options:
    """Options of ``polyk.generate`` (each is also a keyword of ``generate``).

    target       "c" (serial C) or "openmp" (parallel loops get ``omp parallel for``;
                 the thread count follows OMP_NUM_THREADS)
    scheduler    "pluto" (polyk's Pluto+), "isl" (isl's scheduler) or "identity" (the loop
                 nest as written)
    fuse         fusion policy of "pluto" and "isl": "smart" (default), "max", "none"
    wavefront    skew the outermost band into a wavefront when it has no parallel loop
                 (pipelined parallelism; pays off once tiling lands)
    coef_bound   Pluto's bound on the absolute value of hyperplane coefficients
    schedule_timeout  seconds the scheduler may take before it stops with an error
    omp_schedule "static" (default) or "runtime" (then OMP_SCHEDULE or
                 polyk.openmp_threads(n, schedule=...) decides)
    sizes        {"N": 1024}: fix parameters to constants and specialise the code
    assume       extra constraints on parameters, in isl syntax ("N >= 4 and M >= N")
    compile      False: stop after printing the source (no compiler needed)
    fp_contract  False compiles with -ffp-contract=off (no fused multiply-add), so results
                 are bitwise those of the untransformed loop nest
    cc           C compiler (default: $CC or gcc)
    cflags       extra compiler flags, appended
    """

    target: str = "c"
    scheduler: str = "pluto"
    fuse: str | None = None
    wavefront: bool = False
    coef_bound: int = 4
    schedule_timeout: float = 60.0
    omp_schedule: str = "static"
    sizes: dict = field(default_factory=dict)
    assume: str | None = None
    compile: bool = True
    fp_contract: bool = True
    cc: str | None = None
    cflags: tuple = ()

    def __post_init__(self):
        if self.target not in TARGETS:
            raise OptionsError(f"unknown target {self.target!r}; choose one of {TARGETS}")
        if self.scheduler not in SCHEDULERS:
            raise OptionsError(f"unknown scheduler {self.scheduler!r}; choose one of "
                               f"{SCHEDULERS}")
        if self.fuse is not None:
            if self.scheduler == "identity":
                raise OptionsError("scheduler='identity' keeps the loop nest as written and "
                                   "takes no fusion option (fuse=...)")
            if self.fuse not in FUSIONS:
                raise OptionsError(f"unknown fusion policy {self.fuse!r}; choose one of "
                                   f"{FUSIONS}")
        elif self.scheduler != "identity":
            object.__setattr__(self, "fuse", "smart")
        if isinstance(self.coef_bound, bool) or not isinstance(self.coef_bound, int) \
                or self.coef_bound < 1:
            raise OptionsError(f"coef_bound must be a positive integer, got {self.coef_bound!r}")
        if not isinstance(self.schedule_timeout, (int, float)) or self.schedule_timeout <= 0:
            raise OptionsError("schedule_timeout must be a positive number of seconds")
        if self.omp_schedule not in ("static", "runtime"):
            raise OptionsError("omp_schedule must be 'static' or 'runtime'")
        if not isinstance(self.wavefront, bool):
            raise OptionsError("wavefront must be True or False")
        if not isinstance(self.sizes, dict):
            raise OptionsError("sizes must be a dict such as {'N': 1024}")
        for k, v in self.sizes.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise OptionsError(f"sizes[{k!r}] must be a positive integer, got {v!r}")
        if self.assume is not None and not isinstance(self.assume, str):
            raise OptionsError("assume must be a string of constraints, e.g. 'N >= 4'")
        if isinstance(self.cflags, str):
            object.__setattr__(self, "cflags", tuple(self.cflags.split()))
        object.__setattr__(self, "cflags", tuple(self.cflags))

    @classmethod
    def from_keywords(cls, options: Options | None = None, **kw) -> Options:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kw) - names)
        if unknown:
            raise OptionsError(f"unknown option(s) {', '.join(unknown)}; options are "
                               f"{', '.join(sorted(names))}")
        if options is not None:
            return dataclasses.replace(options, **kw)
        return cls(**kw)

    def flags(self) -> tuple[str, ...]:
        out = []
        if not self.fp_contract:
            out.append("-ffp-contract=off")
        if self.target == "openmp":
            out.append("-fopenmp")
        return tuple(out) + tuple(self.cflags)
