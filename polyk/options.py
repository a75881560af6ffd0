"""``polyk.Options``: every knob of ``generate``, validated in one place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .errors import OptionsError

TARGETS = ("c", "openmp", "cuda")
SCHEDULERS = ("pluto", "isl", "identity")
FUSIONS = ("smart", "max", "none")


@dataclass(frozen=True)
class Options:
    """Options of ``polyk.generate`` (each is also a keyword of ``generate``).

    target       "c" (serial C) or "openmp" (parallel loops get ``omp parallel for``;
                 the thread count follows OMP_NUM_THREADS)
    scheduler    "pluto" (polyk's Pluto+), "isl" (isl's scheduler) or "identity" (the loop
                 nest as written)
    fuse         fusion policy of "pluto" and "isl": "smart" (default), "max", "none".
                 Smart (Pluto): SCCs of different depth are distributed; consecutive
                 SCCs are fused only where that keeps each part's tiled band and
                 parallel loop and the reuse distance does not grow with the problem size
                 (polyk.explain names the cut and why)
    wavefront    skew the outermost band into a wavefront when it has no parallel loop
                 (pipelined parallelism); None (default): only a tiled band, for OpenMP
    tile         tiling of permutable bands of two or more members: False (default), True
                 (sizes from the L1 cache), a tuple of sizes for the outermost band
                 (b0; missing members get the default), or {band id: sizes} with the ids
                 polyk.explain prints
    diamond      diamond tiling with concurrent start for time-iterated stencils: "auto"
                 (default: where it applies, with tile), True (required: an error where no
                 band allows it), False (rectangular tiles only)
    intratile    put a parallel member with stride-1 accesses innermost in each permutable
                 band, for vectors (default True)
    separate     full/partial tile separation: full tiles get point loops with constant
                 bounds (default True; only matters with tile)
    simd         mark innermost parallel stride-1 loops for the vectoriser: True or "omp"
                 (``#pragma omp simd``, default), "ivdep" (``#pragma GCC ivdep``), False
    vector_width preferred vector width in bits for gcc (-mprefer-vector-width=): 128, 256,
                 512, or None (the compiler's own tuning)
    l2_tile      a second tiling level: False (default), True (8 tiles per member), or a
                 tuple of L1 tiles per L2 tile
    unroll_jam   register tiling of tiled point bands (polyk/tiling/unroll_jam.py): None
                 (default: automatic factors where a band has a vector loop and a
                 reduction loop), False, or (fu, fv): the outer parallel point loop is
                 unrolled fu times and jammed, the vector loop blocked by fv; a loop
                 around a sequence of innermost loops is blocked by fu and jammed into
                 them where one then sums in scalar accumulators (polyk/tiling/jam.py)
    scalar_replace  keep the register block's accumulators in (vector) registers across
                 the reduction loop (default True; only matters with unroll_jam)
    pack         copy each tile's footprint of an array into a contiguous local buffer
                 (polyk/tiling/packing.py): None (default: where the cost model says it
                 pays), True (every array with a fixed-size box), False
    parallel_first  Pluto looks first for hyperplanes that carry no dependence (parallel
                 loops), ending bands and distributing nests to get them, as PPCG asks isl
                 for outer coincidence; default None: True for "cuda", else False (Pluto's
                 own cost, locality first)
    rar          Pluto also keeps small the reuse distance of reads of the same elements by
                 two statements that read them one-to-one (Pluto's --rar, restricted), so
                 statements that stream one array are fused with matching loops (default
                 True; bicg and mvt read their matrix once instead of twice)
    home_scalars a local scalar accumulator (``w = A[i, j]; for k: w -= ...; A[i, j] = w``)
                 is kept in the array element it ends in, where no other access sees the
                 difference, so each iteration has its own storage and the loops can be
                 tiled (default True; C and OpenMP targets, not "identity";
                 polyk/scop/homing.py)
    gpu_tile, gpu_threads, gpu_inner_tile, gpu_vector, shared, registers, prefetch,
                 min_blocks, unroll, cuda_arch
                 the CUDA target's mapping (see polyk.codegen.cuda_runtime.GPU_OPTIONS)
    coef_bound   Pluto's bound on the absolute value of hyperplane coefficients
    schedule_timeout  seconds the dependence analysis and the scheduler may each take before
                 they stop with an error (isl's work counted in operations: polyk.isl_budget)
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
    wavefront: bool | None = None
    coef_bound: int = 4
    parallel_first: bool | None = None
    rar: bool = True
    home_scalars: bool = True
    schedule_timeout: float = 60.0
    omp_schedule: str = "static"
    tile: object = False
    l2_tile: object = False
    diamond: object = "auto"
    intratile: bool = True
    separate: bool = True
    simd: object = True
    vector_width: int | None = None
    unroll_jam: object = None
    scalar_replace: bool = True
    pack: object = None
    sizes: dict = field(default_factory=dict)
    assume: str | None = None
    compile: bool = True
    fp_contract: bool = True
    cc: str | None = None
    cflags: tuple = ()
    gpu_tile: tuple | None = None
    gpu_threads: tuple | None = None
    gpu_inner_tile: int = 8
    gpu_vector: int | None = None
    shared: object = "auto"
    registers: bool = True
    prefetch: bool = True
    min_blocks: int | None = None
    unroll: int | None = None
    cuda_arch: str | None = None

    def __post_init__(self):
        if self.target not in TARGETS:
            raise OptionsError(f"unknown target {self.target!r}; choose one of {TARGETS}")
        if self.parallel_first is None:
            object.__setattr__(self, "parallel_first", self.target == "cuda")
        if not isinstance(self.parallel_first, bool):
            raise OptionsError("parallel_first must be True, False or None (the target's "
                               "choice)")
        if not isinstance(self.rar, bool):
            raise OptionsError(f"rar must be True or False, got {self.rar!r}")
        if not isinstance(self.home_scalars, bool):
            raise OptionsError(f"home_scalars must be True or False, got "
                               f"{self.home_scalars!r}")
        from .codegen.cuda_runtime import check_gpu_options
        check_gpu_options(self)
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
        if self.wavefront is not None and not isinstance(self.wavefront, bool):
            raise OptionsError("wavefront must be True, False or None (automatic)")
        if not isinstance(self.separate, bool):
            raise OptionsError("separate must be True or False")
        if self.simd is True:
            object.__setattr__(self, "simd", "omp")
        if self.simd not in ("omp", "ivdep", False):
            raise OptionsError(f"simd must be True, 'omp', 'ivdep' or False; got {self.simd!r}")
        if self.vector_width not in (None, 128, 256, 512):
            raise OptionsError("vector_width must be 128, 256, 512 or None (the compiler's "
                               f"choice); got {self.vector_width!r}")
        object.__setattr__(self, "tile", _sizes_option("tile", self.tile, dict_ok=True))
        object.__setattr__(self, "l2_tile", _sizes_option("l2_tile", self.l2_tile))
        if self.diamond not in ("auto", True, False):
            raise OptionsError(f"diamond must be 'auto', True or False; got {self.diamond!r}")
        if self.diamond is True and not self.tile:
            raise OptionsError("diamond=True needs tile: diamond tiling is a tiling")
        for name, words in (("unroll_jam", {"auto": None, "none": None, "false": False}),
                            ("pack", {"auto": None, "none": None, "false": False,
                                      "true": True})):
            v = getattr(self, name)       # the words of `polyk compile --unroll-jam 4,16`
            if isinstance(v, str):
                low = v.strip().lower()
                if low in words:
                    object.__setattr__(self, name, words[low])
                elif name == "unroll_jam" and all(x.strip().isdigit() for x in v.split(",")):
                    object.__setattr__(self, name, tuple(int(x) for x in v.split(",")))
        if self.unroll_jam not in (None, False):
            uj = self.unroll_jam
            if not isinstance(uj, (tuple, list)) or len(uj) != 2 or any(
                    isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in uj):
                raise OptionsError("unroll_jam must be None (automatic), False, or a pair "
                                   f"of positive factors such as (4, 16); got {uj!r}")
            object.__setattr__(self, "unroll_jam", tuple(uj))
            if not self.tile:
                raise OptionsError("unroll_jam needs tile: it register-tiles the point "
                                   "loops of tiles")
            # a factor larger than every tile size fits no loop; one larger than the tile
            # of the loop it falls on is refused when the register block is placed
            # (tiling/unroll_jam.py), with both numbers
            if isinstance(self.tile, tuple) and max(uj) > max(self.tile):
                raise OptionsError(f"unroll_jam factor {max(uj)} is larger than every tile "
                                   f"size of tile={self.tile}: a register block cannot be "
                                   "larger than its tile")
        if not isinstance(self.scalar_replace, bool):
            raise OptionsError("scalar_replace must be True or False")
        if self.pack not in (None, True, False):
            raise OptionsError(f"pack must be None (automatic), True or False; got "
                               f"{self.pack!r}")
        if self.l2_tile and not self.tile:
            raise OptionsError("l2_tile needs tile: a second level tiles the first")
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

    def tile_sizes(self, band: int, n: int, default: tuple[int, ...] | None = None):
        """Tile sizes of band ``band`` (``n`` members), or None to leave it untiled.
        ``default``: the sizes for members the option leaves open (None: square tiles
        from the L1 size)."""
        from .tiling.rectangular import default_sizes
        if not self.tile:
            return None
        default = tuple(default) if default is not None else default_sizes(n)
        if self.tile is True:
            return default
        if isinstance(self.tile, dict):
            given = self.tile.get(band)
            if given is None:
                return None
        else:
            if band != 0:
                return default
            given = self.tile
        given = tuple(given)[:n]
        return given + default[len(given):]

    def l2_factors(self, band: int, n: int):
        if not self.l2_tile:
            return None
        if self.l2_tile is True:
            return (8,) * n
        given = tuple(self.l2_tile)[:n]
        return given + (8,) * (n - len(given))

    def flags(self) -> tuple[str, ...]:
        out = []
        if not self.fp_contract:
            out.append("-ffp-contract=off")
        if self.target == "openmp":
            out.append("-fopenmp")
        elif self.simd == "omp":
            out.append("-fopenmp-simd")
        if self.vector_width is not None:
            out.append(f"-mprefer-vector-width={self.vector_width}")
        return tuple(out) + tuple(self.cflags)


def _sizes_option(name, value, dict_ok=False):
    """False/None, True, a tuple of positive sizes, or (tile only) {band id: tuple}."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if dict_ok and isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str) and k.startswith("b") and k[1:].isdigit():
                k = int(k[1:])
            if isinstance(k, bool) or not isinstance(k, int) or k < 0:
                raise OptionsError(f"{name}: band ids are 0, 1, ... (or 'b0', 'b1', ... as "
                                   f"polyk.explain prints them), got {k!r}")
            out[k] = _sizes_option(name, v)
            if out[k] is True or out[k] is False:
                raise OptionsError(f"{name}[{k!r}] must be a tuple of tile sizes")
        return out
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, (tuple, list)) and value and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        return tuple(value)
    raise OptionsError(f"{name} must be True, False, a tuple of positive tile sizes"
                       + (" or a dict {band id: sizes}" if dict_ok else "") + f"; got {value!r}")
