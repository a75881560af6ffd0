"""The CUDA target: generated sources compile with nvcc (here and in CI, where nvcc is
found), the mapping is checked, options are validated, and on a GPU every library kernel
equals its NumPy reference under default and non-default mapping options.

GPU tests run only where a CUDA device answers (they ran through the `device` tool on an
H100; see docs/performance.md)."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

import polyk
from polyk import f64
from polyk.codegen import cuda_runtime
from polyk.kernels import LIBRARY
from polyk.tiling.gpu_mapping import GpuMapper, check_gpu_mapping, default_mapping

NVCC = shutil.which(os.environ.get("NVCC", "nvcc"))
HAS_GPU = cuda_runtime.device_attributes() is not None

needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc not found on PATH: the CUDA "
                                "sources are not compile-checked here")
needs_gpu = pytest.mark.skipif(not HAS_GPU, reason="no CUDA device found (libcudart did not "
                               "report one): GPU runs are done through the device tool")

# non-default mapping options: small uneven tiles, several points per thread, no/forced
# promotion, an inner tile that divides nothing
OTHER = dict(gpu_tile=(6, 8, 12), gpu_threads=(2, 4, 4), gpu_inner_tile=5, shared=True,
             registers=False, unroll=2, cflags=("-DPOLYK_INDEX64",))
OTHER_REGS = dict(gpu_tile=(4, 8, 16), gpu_threads=(1, 2, 8), gpu_inner_tile=3,
                  shared=False, registers=True, min_blocks=3)
# the shared-memory copies without software pipelining (defaults and OTHER have it)
NO_PREFETCH = dict(prefetch=False)
NO_PREFETCH_KERNELS = ("gemm", "2mm", "syr2k", "correlation", "jacobi-2d")


def _combined(sources: dict) -> str:
    """One translation unit holding many generated files, each in its own namespace (its
    launcher static, the shared runtime helpers left out), so one nvcc call checks them."""
    out = ["#define POLYK_EXPORT static", "#define POLYK_NO_RUNTIME",
           "#include <stdint.h>", "#include <math.h>", "#include <cuda_runtime.h>"]
    for i, (name, text) in enumerate(sources.items()):
        out.append(f"namespace polyk_test_{i} {{ // {name}\n{text}\n}}")
    return "\n".join(out)


def _nvcc_c(tmp_path, text):
    src = tmp_path / "all.cu"
    src.write_text(text)
    proc = subprocess.run([NVCC, "-c", "-O0", "-Xcicc", "-O0", "-Xptxas", "-O0",
                           "-std=c++17", "-arch=sm_90",
                           "-diag-suppress=177", str(src), "-o", str(tmp_path / "all.o")],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.fixture(scope="module")
def library_kernels():
    """Every library kernel generated for CUDA with default options (source only)."""
    return {name: polyk.generate(spec.op, target="cuda", compile=False)
            for name, spec in LIBRARY.items()}


@needs_nvcc
def test_every_library_kernel_compiles(tmp_path, library_kernels):
    """Every library kernel, default mapping and two non-default ones (gemm, jacobi-2d,
    heat-3d and atax), through one nvcc -c."""
    sources = {name: k.source for name, k in library_kernels.items()}
    for name in ("gemm", "jacobi-2d", "heat-3d", "atax"):
        for i, extra in enumerate((OTHER, OTHER_REGS)):
            sources[f"{name}-{i}"] = polyk.generate(LIBRARY[name].op, target="cuda",
                                                    compile=False, **extra).source
    _nvcc_c(tmp_path, _combined(sources))


def test_gemm_structure(library_kernels):
    k = polyk.generate(LIBRARY["gemm"].op, target="cuda", compile=False)
    cfg = k.launch_config
    assert len(cfg) == 2 and not any(c["serial"] for c in cfg)
    prod = cfg[1]
    assert prod["block"] == (16, 16)
    assert prod["registers"] == ("C",) and set(prod["shared"]) == {"A", "B"}
    assert "__syncthreads()" in k.source and "polyk_reg_C[polyk_r0][polyk_r1]" in k.source
    assert "blockIdx.x" in k.source and "threadIdx.y" in k.source
    # every parallel kernel of the library has at least a warp per block
    for name, kk in library_kernels.items():
        for c in kk.launch_config:
            if not c["serial"]:
                assert np.prod(c["block"]) >= 32, (name, c)


def test_gemm_full_tiles_and_prefetch():
    """The matrix product's k point loop has a version with a constant trip count for full
    tiles, tested once with the full-tile conditions of the thread loops inside it (so its
    body is one basic block, without guards); the next k tile's A and B are loaded into
    registers while this one computes; prefetch=False and min_blocks change that code."""
    src = polyk.generate(LIBRARY["gemm"].op, target="cuda", compile=False).source
    k1 = src[src.index("polyk_gemm_k1"):src.index("POLYK_EXPORT int polyk_gemm(")]
    fast = k1[k1.index("for (int polyk_u0 = 0; polyk_u0 < 8; polyk_u0++)"):]
    fast = fast[:fast.index("else")]
    assert "if (" not in fast and fast.count("polyk_reg_C[polyk_r0][polyk_r1] +=") == 1
    assert "polyk_pf_A[4]" in k1 and "polyk_pf_B[4]" in k1
    assert k1.count("__syncthreads()") == 2 and "__launch_bounds__(256, 2)  polyk_gemm_k1" in src
    plain = polyk.generate(LIBRARY["gemm"].op, target="cuda", compile=False, prefetch=False,
                           min_blocks=1).source
    assert "polyk_pf_" not in plain and "__launch_bounds__(256, 1)  polyk_gemm_k1" in plain


def test_stencil_time_loop_stays_on_host():
    k = polyk.generate(LIBRARY["jacobi-2d"].op, target="cuda", compile=False)
    host = k.source[k.source.index("POLYK_EXPORT int polyk_"):]
    assert host.count("<int32_t><<<") == 2 and "for (int64_t c0 = 0;" in host
    assert all(not c["serial"] and c["block"] == (32, 8) for c in k.launch_config)


def test_options_are_validated():
    op = LIBRARY["gemm"].op
    bad = [dict(gpu_threads=(64, 32)), dict(gpu_tile=(30, 32), gpu_threads=(8, 32)),
           dict(tile=True), dict(shared="yes"), dict(registers=1), dict(unroll=0),
           dict(gpu_tile=(0, 4)), dict(cuda_arch="90"), dict(gpu_inner_tile=-1),
           dict(prefetch="yes"), dict(min_blocks=0), dict(min_blocks=True)]
    for kw in bad:
        with pytest.raises(polyk.OptionsError):
            polyk.generate(op, target="cuda", compile=False, **kw)


def test_missing_nvcc_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("NVCC", "/nonexistent/nvcc")
    with pytest.raises(polyk.CompileError):
        polyk.generate(LIBRARY["gemm"].op, target="cuda")


def test_mapping_a_sequential_loop_is_refused():
    """Plant a coincident flag on jacobi-1d's time loop: the mapper maps it to threads and
    the mapping checker must refuse that kernel (it would race)."""
    import islpy as isl
    from polyk.pipeline import schedule_scop
    from polyk.scop import compute_dependences
    from polyk.scop.privatize import split_for_coincidence
    op = LIBRARY["jacobi-1d"].op
    opts = polyk.Options(target="cuda", compile=False)
    scop = op.scop()
    deps = compute_dependences(scop)
    base = schedule_scop(scop, deps, polyk.Options(target="c", scheduler="identity"))
    always, scalars = split_for_coincidence(scop, deps)

    def plant(node):
        if node.get_type() == isl.schedule_node_type.band:
            for j in range(node.band_n_member()):
                node = node.band_member_set_coincident(j, 1)
        return node

    tree = base.tree.map_schedule_node_bottom_up(plant)
    mapper = GpuMapper(always, scalars, lambda m, n, node: default_mapping(opts, m, n))
    tree = mapper.run(tree)
    problems = check_gpu_mapping(scop, tree, mapper.kernels)
    assert problems and "conflict" in problems[0][1]
    # the real pipeline never ships such a kernel
    good = polyk.generate(op, target="cuda", compile=False)
    assert "c0 = polyk_lo0" not in good.source


# ------------------------------------------------------------------ on a GPU

N = polyk.params("N")


@polyk.op
def scale(a: f64, x: f64[N]):
    for i in range(N):
        x[i] *= a


def _cases():
    out = []
    for name, spec in LIBRARY.items():
        for i, sz in enumerate(spec.test_sizes()[:2]):
            out.append(pytest.param(name, sz, {}, id=f"{name}-default-{i}"))
        sz = spec.test_sizes()[0]
        out.append(pytest.param(name, sz, OTHER, id=f"{name}-other"))
        out.append(pytest.param(name, sz, OTHER_REGS, id=f"{name}-regs"))
        if name in NO_PREFETCH_KERNELS:
            out.append(pytest.param(name, sz, NO_PREFETCH, id=f"{name}-noprefetch"))
    return out


@needs_gpu
@pytest.mark.parametrize("name,sizes,extra", _cases())
def test_library_kernel_on_gpu(name, sizes, extra):
    spec = LIBRARY[name]
    k = polyk.generate(spec.op, target="cuda", **extra)
    polyk.check(k, spec.reference, sizes, rtol=spec.rtol)


@needs_gpu
def test_device_arrays_in_place():
    cupy = pytest.importorskip("cupy")
    spec = LIBRARY["gemm"]
    k = polyk.generate(spec.op, target="cuda")
    rng = np.random.default_rng(1)
    A = rng.random((70, 50), dtype=np.float64)
    B = rng.random((50, 90), dtype=np.float64)
    C = rng.random((70, 90), dtype=np.float64)
    dA, dB, dC = cupy.asarray(A), cupy.asarray(B), cupy.asarray(C)
    k(alpha=1.5, beta=0.5, C=dC, A=dA, B=dB)
    k.synchronize()
    want = 0.5 * C + 1.5 * A @ B
    assert np.allclose(cupy.asnumpy(dC), want, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        k(alpha=1.5, beta=0.5, C=dC, A=dA.astype(cupy.float32), B=dB)


@needs_nvcc
@pytest.mark.skipif(HAS_GPU, reason="checks the error where no GPU is found")
def test_call_without_gpu_is_a_clear_error():
    k = polyk.generate(scale, target="cuda")
    assert k.launch_config[0]["block"] == (256,)
    with pytest.raises(cuda_runtime.CudaError):
        k(a=2.0, x=np.ones(10))


def test_scalar_reused_by_several_kernels_is_local_to_each():
    """ludcmp's w and deriche's ym1/ym2 are set before use in every kernel that touches
    them, and no value passes between kernels: each kernel (each thread of a parallel one)
    keeps its own. As one device global they were written by every thread of a parallel
    kernel at once (a race, found by running the kernels under ThreadSanitizer)."""
    lu = polyk.generate(LIBRARY["ludcmp"].op, target="cuda", compile=False)
    assert "polyk_dev_w" not in lu.source and lu.source.count("double w;") == 3
    de = polyk.generate(LIBRARY["deriche"].op, target="cuda", compile=False).source
    k1 = de[de.index("polyk_deriche_k1("):de.index("polyk_deriche_k2(")]
    assert "float ym1;" in k1 and "polyk_dev_ym1" not in de
    # a scalar whose value flows from one kernel to the next stays in device memory
    assert "__device__ float polyk_dev_a1;" in de
