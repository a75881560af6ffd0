"""Run polyk's generated CUDA on the CPU: an emulation of CUDA's execution model good enough
to check results where no GPU is found (test support, not part of polyk).

How it works
------------
* ``HEADER`` is written as ``cuda_runtime.h`` into a directory put first on g++'s include
  path. It defines ``dim3``, ``uint3``, ``cudaError_t``, ``cudaPeekAtLastError``,
  ``cudaMemcpyToSymbol`` (a memcpy), ``cudaGetErrorString``, ..., empty ``__global__``,
  ``__device__``, ``__host__``, ``__launch_bounds__(...)``, and ``__shared__`` as ``static``.
* A launch ``k<int32_t><<<grid, block>>>(args);`` of the host launcher is rewritten (regex on
  the source text, ``emulator_source``) into
  ``polyk_emu_launch(dim3(grid), dim3(block), [&]() { k<int32_t>(args); }, "k<int32_t>");``.
  That runs the grid's blocks one after another (so a ``static`` array is one block's shared
  memory); in each block blockDim.x*y*z std::threads run the kernel concurrently, each with
  its own ``thread_local`` ``threadIdx``/``blockIdx`` (``blockDim``/``gridDim`` are globals).
  The threads come from a pool kept across launches (the library kernels launch up to ~1500
  times a call: creating the threads each time cost 10x the run). ``__syncthreads()`` waits
  on a C++20 ``std::barrier`` shared by the block's threads; a thread that returns from the
  kernel drops out of it (as an exited GPU thread does).
* ``static`` arrays in the template kernels: each instantiation has its own, and with
  ``-fno-gnu-unique -fvisibility=hidden`` each loaded library too (g++ otherwise makes them
  STB_GNU_UNIQUE symbols, which the dynamic loader merges across libraries: two option sets
  of one op, loaded in one process, would share -- and overflow -- one array).
* The kernels are compiled with ``g++ -std=c++20 -O1 -pthread -fPIC -shared
  -DPOLYK_NO_RUNTIME`` (``POLYK_EXPORT`` is ``extern "C"``), cached by a hash of the text,
  header and flags (``$POLYK_EMU_CACHE``, default ``$TMPDIR/polyk-cuda-emu-$UID``), and the
  launcher is called through ctypes with host pointers: in the emulation, device pointers
  are host pointers. ``EmulatedKernel`` takes the launcher's signature from polyk's own
  metadata (``kernel.module.params``, ``kernel.module.args``), as ``CudaKernel`` does.

Checks beyond the results (each is a real CUDA bug, which the emulation makes visible):
* every ``__shared__`` array (registered by a line the rewrite adds after its declaration)
  is filled with 0xFF bytes (NaN for floats, -1 for integers) at the start of every block,
  so a read of shared memory no thread of the block wrote shows up; locals start with a
  pattern too (``-ftrivial-auto-var-init=pattern``);
* every array is copied into its own mapping between two inaccessible pages, one end of the
  data touching a page (``guard="end"``: an access just past the end faults; ``"start"``:
  just before the start faults) and 0xFF bytes on the other side (a write there is reported
  after the run, a read there reads NaN / -1); a fault is reported with the array and the
  element;
* the threads of a block must all pass the same ``__syncthreads()`` calls (a barrier in
  divergent code is undefined behaviour on a GPU);
* launch configurations are checked against CUDA's limits (1024 threads a block, ...);
* besides truly concurrent threads (``threads="concurrent"``, the design above), the threads
  of a block can run one at a time from barrier to barrier in a fixed order (``"forward"``,
  ``"reverse"``, ``"shuffle"``; as ucontext fibers on the launching thread, which switch at
  ``__syncthreads()``: deterministic and fast), and the blocks in any order (``blocks=``): a
  correct kernel gives the same result under every order, a race (between two barriers, or
  between blocks) does not;
* by default each run happens in a forked child process (``isolate=True``) with the buffers
  in shared memory, so a crash or a hang (``timeout``) is an error, not the end of the test
  run.

Not emulated: warps (no warp-synchronous code, shuffles or atomics are generated), dynamic
shared memory, streams; the results are those of the host's double/float arithmetic (no FMA
contraction as nvcc does), so compare with a tolerance.

Use::

    k = polyk.generate(op, target="cuda", compile=False, **options)
    ek = EmulatedKernel(k)                   # builds (cached); same call as the real kernel
    polyk.check(ek, spec.reference, sizes, rtol=spec.rtol)

or, lower level, ``run_emulated(source, "polyk_gemm", [NI, NJ, NK, alpha, beta, C, A, B])``.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import mmap
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

CXX = os.environ.get("POLYK_EMU_CXX") or shutil.which("g++") or "g++"
GUARD = 4096                      # bytes of 0xFF at least, on one side of every array
POISON = 0xFF

HEADER = r"""// cuda_runtime.h of polyk's CPU emulation of CUDA (tests/cuda_emu.py)
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <math.h>
#include <atomic>
#include <barrier>
#include <unistd.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <signal.h>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#define POLYK_EMU_API extern "C" __attribute__((visibility("default")))
#ifndef POLYK_EXPORT
#define POLYK_EXPORT POLYK_EMU_API
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __shared__ static
#define __syncthreads() polyk_emu::syncthreads(__LINE__)

struct uint3 { unsigned int x, y, z; };
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1)
    : x(vx), y(vy), z(vz) {}
};
static const int warpSize = 32;

enum cudaError {
  cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9, cudaErrorLaunchFailure = 719
};
typedef enum cudaError cudaError_t;
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1,
                      cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3,
                      cudaMemcpyDefault = 4 };
typedef int cudaDeviceAttr;

// the coordinates of the running thread (its own) and the shape of the running launch
static thread_local uint3 threadIdx;
static thread_local uint3 blockIdx;
static dim3 blockDim;
static dim3 gridDim;

namespace polyk_emu {

enum { THREADS_CONCURRENT = 0, THREADS_FORWARD = 1, THREADS_REVERSE = 2, THREADS_SHUFFLE = 3 };
enum { BLOCKS_FORWARD = 0, BLOCKS_REVERSE = 1, BLOCKS_SHUFFLE = 2 };

struct Config {
  int threads = THREADS_CONCURRENT;
  int blocks = BLOCKS_FORWARD;
  uint64_t seed = 1;
  int poison = 1;          // fill shared memory with 0xFF at every block start
  int strict_sync = 1;     // all threads of a block must pass the same __syncthreads()
};
static Config cfg;
static cudaError_t last_error = cudaSuccess;
static std::string message;
static int64_t stat_launches = 0, stat_blocks = 0, stat_threads = 0, stat_phases = 0;

static void fail(cudaError_t e, const std::string &what) {
  if (last_error == cudaSuccess) { last_error = e; message = what; }
}

// __shared__ arrays, registered on first use (see POLYK_EMU_SHARED), poisoned per block
static std::mutex shared_mutex;
static std::vector<std::pair<void *, size_t>> shared_arrays;
struct SharedReg {
  SharedReg(void *p, size_t n) {
    // runs once, under the guard of a function-local static: no thread of the block is
    // past the array's declaration yet
    if (cfg.poison) memset(p, 0xFF, n);
    std::lock_guard<std::mutex> g(shared_mutex);
    shared_arrays.emplace_back(p, n);
  }
};
static void poison_shared() {
  if (!cfg.poison) return;
  std::lock_guard<std::mutex> g(shared_mutex);
  for (auto &a : shared_arrays) memset(a.first, 0xFF, a.second);
}

static uint64_t splitmix(uint64_t &s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
template <class T> static void shuffle(std::vector<T> &v, uint64_t &s) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[splitmix(s) % i]);
}

struct Launch;
struct EndOfBlock { Launch *L; void operator()() noexcept; };

static Launch *current = nullptr;
static thread_local unsigned tl_tid = 0;

// serial threads are fibers (ucontext) on the launching thread, resumed one at a time in
// the chosen order: each runs from one barrier to the next, then yields
struct Fiber {
  ucontext_t ctx;
  char *stack = nullptr;
  int state = 0;          // 0: not started, 1: waiting at a barrier, 2: done
};
static const size_t FIBER_STACK = 256 * 1024;   // + a guard page below it
struct FiberPool {
  pid_t pid = 0;
  std::vector<Fiber *> fibers;
  ucontext_t scheduler;
};
static FiberPool *fiber_pool = nullptr;

struct Launch {
  dim3 grid, block;
  unsigned n;
  std::string name;
  void (*fn)(void *);
  void *ctx;
  bool serial;
  std::vector<uint64_t> order;           // linear block ids, in the order they run
  size_t cur = 0;
  std::vector<unsigned> tid_of_rank;     // serial threads: the order they are resumed in
  std::vector<uint64_t> nsync, synchash, firstline;
  std::optional<std::barrier<>> sync_bar;                      // concurrent threads
  std::optional<std::barrier<EndOfBlock>> end_bar;
  bool abort = false;                    // written in end_of_block only

  Launch(dim3 g, dim3 b, void (*f)(void *), void *c, const char *nm)
    : grid(g), block(b), n(b.x * b.y * b.z), name(nm), fn(f), ctx(c),
      serial(cfg.threads != THREADS_CONCURRENT) {
    uint64_t s = cfg.seed * 0x2545F4914F6CDD1Dull + (uint64_t)stat_launches;
    uint64_t nb = (uint64_t)g.x * g.y * g.z;
    order.resize(nb);
    for (uint64_t i = 0; i < nb; ++i)
      order[i] = cfg.blocks == BLOCKS_REVERSE ? nb - 1 - i : i;
    if (cfg.blocks == BLOCKS_SHUFFLE) shuffle(order, s);
    tid_of_rank.resize(n);
    for (unsigned i = 0; i < n; ++i)
      tid_of_rank[i] = cfg.threads == THREADS_REVERSE ? n - 1 - i : i;
    if (cfg.threads == THREADS_SHUFFLE) shuffle(tid_of_rank, s);
    nsync.assign(n, 0);
    synchash.assign(n, 0);
    firstline.assign(n, 0);
    if (!serial) {
      sync_bar.emplace((ptrdiff_t)n);
      end_bar.emplace((ptrdiff_t)n, EndOfBlock{this});
    }
  }

  uint3 thread_of(unsigned t) const {
    return uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
  }
  uint3 block_of(uint64_t id) const {
    return uint3{(unsigned)(id % grid.x), (unsigned)((id / grid.x) % grid.y),
                 (unsigned)(id / ((uint64_t)grid.x * grid.y))};
  }

  void sync(unsigned t, int line) {
    if (nsync[t] == 0) firstline[t] = (uint64_t)line;
    nsync[t]++;
    synchash[t] = synchash[t] * 1000003u + (uint64_t)line;
    if (serial) {
      Fiber *f = fiber_pool->fibers[t];
      f->state = 1;
      swapcontext(&f->ctx, &fiber_pool->scheduler);
    } else {
      sync_bar->arrive_and_wait();
    }
  }

  std::string block_text() const {
    uint3 b = block_of(order[cur]);
    char buf[128];
    snprintf(buf, sizeof buf, "(%u, %u, %u)", b.x, b.y, b.z);
    return buf;
  }
  std::string thread_text(unsigned t) const {
    uint3 c = thread_of(t);
    char buf[96];
    snprintf(buf, sizeof buf, "(%u, %u, %u)", c.x, c.y, c.z);
    return buf;
  }

  // after every thread of block order[cur] returned: check its barriers, set up the next
  void end_of_block() {
    int64_t most = 0;
    for (unsigned t = 0; t < n; ++t) most = std::max<int64_t>(most, (int64_t)nsync[t]);
    stat_phases += most;
    stat_blocks += 1;
    if (cfg.strict_sync) {
      for (unsigned t = 1; t < n && !abort; ++t) {
        if (nsync[t] != nsync[0] || synchash[t] != synchash[0]) {
          char buf[512];
          snprintf(buf, sizeof buf,
                   "%s, block %s: the threads of a block passed different __syncthreads() "
                   "(a barrier in divergent code): thread %s passed %llu (first at line %llu), "
                   "thread %s passed %llu (first at line %llu)",
                   name.c_str(), block_text().c_str(), thread_text(0).c_str(),
                   (unsigned long long)nsync[0], (unsigned long long)firstline[0],
                   thread_text(t).c_str(), (unsigned long long)nsync[t],
                   (unsigned long long)firstline[t]);
          fail(cudaErrorLaunchFailure, buf);
          abort = true;
        }
      }
    }
    std::fill(nsync.begin(), nsync.end(), 0);
    std::fill(synchash.begin(), synchash.end(), 0);
    cur++;
    if (cur < order.size() && !abort) {
      poison_shared();
      if (!serial) sync_bar.emplace((ptrdiff_t)n);
    }
  }
};

inline void EndOfBlock::operator()() noexcept { L->end_of_block(); }

// ---- concurrent threads: a pool of std::threads kept across launches (creating blockDim
// threads per launch costs far more than the small kernels run); never destroyed (threads
// blocked at exit are fine, joinable std::threads destroyed at exit are not), made anew in
// a forked child
static void worker(Launch *L, unsigned t) {
  tl_tid = t;
  threadIdx = L->thread_of(t);
  for (size_t b = 0; b < L->order.size(); ++b) {
    if (L->abort) break;               // set before the barrier released every thread
    blockIdx = L->block_of(L->order[b]);
    L->fn(L->ctx);
    L->sync_bar->arrive_and_drop();    // a returned thread no longer holds barriers up
    L->end_bar->arrive_and_wait();     // the completion runs end_of_block()
  }
}

struct Pool {
  pid_t pid = 0;
  std::vector<std::binary_semaphore *> go;
  Launch *job = nullptr;
  std::atomic<int64_t> remaining{0};   // workers still on the job (lives on, so no worker
                                       // touches freed memory after its last step)
};
static Pool *pool = nullptr;

// a worker holds its own semaphore: the vector of them may grow (and move) while it runs
static void pool_main(Pool *P, std::binary_semaphore *go, unsigned w) {
  for (;;) {
    go->acquire();
    worker(P->job, w);
    if (P->remaining.fetch_sub(1) == 1) P->remaining.notify_one();
  }
}

static void run_concurrent(Launch &L) {
  if (pool == nullptr || pool->pid != getpid()) {
    pool = new Pool();
    pool->pid = getpid();
  }
  while (pool->go.size() < L.n) {
    unsigned w = (unsigned)pool->go.size();
    pool->go.push_back(new std::binary_semaphore(0));
    std::thread(pool_main, pool, pool->go.back(), w).detach();
  }
  pool->job = &L;
  pool->remaining.store((int64_t)L.n);
  for (unsigned t = 0; t < L.n; ++t) pool->go[t]->release();
  for (int64_t v; (v = pool->remaining.load()) != 0;) pool->remaining.wait(v);
}

// ---- serial threads
static void fiber_main() {
  Launch *L = current;
  unsigned t = tl_tid;
  L->fn(L->ctx);
  fiber_pool->fibers[t]->state = 2;
  swapcontext(&fiber_pool->fibers[t]->ctx, &fiber_pool->scheduler);
}

static void run_serial(Launch &L) {
  if (fiber_pool == nullptr || fiber_pool->pid != getpid()) {
    fiber_pool = new FiberPool();
    fiber_pool->pid = getpid();
  }
  FiberPool *P = fiber_pool;
  long page = sysconf(_SC_PAGESIZE);
  while (P->fibers.size() < L.n) {
    Fiber *f = new Fiber();
    void *m = mmap(nullptr, FIBER_STACK + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) { fail(cudaErrorMemoryAllocation, "no memory for thread stacks"); return; }
    mprotect(m, page, PROT_NONE);            // a stack overflow faults
    f->stack = (char *)m + page;
    P->fibers.push_back(f);
  }
  for (; L.cur < L.order.size() && !L.abort;) {
    blockIdx = L.block_of(L.order[L.cur]);
    for (unsigned t = 0; t < L.n; ++t) {
      Fiber *f = P->fibers[t];
      getcontext(&f->ctx);
      f->ctx.uc_stack.ss_sp = f->stack;
      f->ctx.uc_stack.ss_size = FIBER_STACK;
      f->ctx.uc_link = nullptr;
      makecontext(&f->ctx, fiber_main, 0);
      f->state = 0;
    }
    // barrier intervals: resume every thread not yet returned, in order, until each is at
    // the next barrier or returned
    for (bool alive = true; alive;) {
      alive = false;
      for (unsigned r = 0; r < L.n; ++r) {
        unsigned t = L.tid_of_rank[r];
        Fiber *f = P->fibers[t];
        if (f->state == 2) continue;
        tl_tid = t;
        threadIdx = L.thread_of(t);
        swapcontext(&P->scheduler, &f->ctx);
        alive = alive || f->state != 2;
      }
    }
    L.end_of_block();
  }
}

static void syncthreads(int line) {
  Launch *L = current;
  if (L == nullptr) { fail(cudaErrorLaunchFailure, "__syncthreads() outside a kernel"); return; }
  L->sync(tl_tid, line);
}

static void launch(dim3 g, dim3 b, void (*fn)(void *), void *ctx, const char *name) {
  if (last_error != cudaSuccess) return;      // errors are sticky, as CUDA's launch errors
  char buf[256];
  uint64_t threads = (uint64_t)b.x * b.y * b.z;
  if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z || threads > 1024 || b.x > 1024 ||
      b.y > 1024 || b.z > 64 || g.x > 2147483647u || g.y > 65535 || g.z > 65535) {
    snprintf(buf, sizeof buf, "%s: invalid launch configuration grid (%u, %u, %u) block "
             "(%u, %u, %u)", name, g.x, g.y, g.z, b.x, b.y, b.z);
    fail(cudaErrorInvalidConfiguration, buf);
    return;
  }
  if (current != nullptr) { fail(cudaErrorLaunchFailure, "a launch inside a kernel"); return; }
  gridDim = g;
  blockDim = b;
  Launch L(g, b, fn, ctx, name);
  stat_launches += 1;
  stat_threads += (int64_t)threads * (int64_t)L.order.size();
  poison_shared();
  current = &L;
  if (L.serial) run_serial(L);
  else run_concurrent(L);
  current = nullptr;
}

}  // namespace polyk_emu

#define POLYK_EMU_SHARED(a) \
  static polyk_emu::SharedReg polyk_emu_reg_##a((void *)(a), sizeof(a)); (void)polyk_emu_reg_##a

template <class F>
static inline void polyk_emu_launch(dim3 g, dim3 b, F &&f, const char *name) {
  using Fn = std::remove_reference_t<F>;
  polyk_emu::launch(g, b, [](void *p) { (*static_cast<Fn *>(p))(); }, (void *)&f, name);
}

static inline cudaError_t cudaPeekAtLastError(void) { return polyk_emu::last_error; }
static inline cudaError_t cudaGetLastError(void) {
  cudaError_t e = polyk_emu::last_error;
  polyk_emu::last_error = cudaSuccess;
  return e;
}
static inline const char *cudaGetErrorString(cudaError_t e) {
  switch ((int)e) {
    case 0: return "no error";
    case 1: return "invalid argument";
    case 2: return "out of memory";
    case 9: return "invalid configuration argument";
    case 719: return "unspecified launch failure";
    default: return "unknown error";
  }
}
template <class T>
static inline cudaError_t cudaMemcpyToSymbol(T &symbol, const void *src, size_t count,
                                             size_t offset = 0,
                                             cudaMemcpyKind kind = cudaMemcpyHostToDevice) {
  (void)kind;
  if (offset + count > sizeof(T)) return cudaErrorInvalidValue;
  memcpy((char *)&symbol + offset, src, count);
  return cudaSuccess;
}
template <class T>
static inline cudaError_t cudaMemcpyFromSymbol(void *dst, const T &symbol, size_t count,
                                               size_t offset = 0,
                                               cudaMemcpyKind kind = cudaMemcpyDeviceToHost) {
  (void)kind;
  if (offset + count > sizeof(T)) return cudaErrorInvalidValue;
  memcpy(dst, (const char *)&symbol + offset, count);
  return cudaSuccess;
}
// the runtime section of the generated file (compiled only without -DPOLYK_NO_RUNTIME)
static inline cudaError_t cudaMalloc(void **p, size_t n) {
  *p = malloc(n ? n : 1);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
static inline cudaError_t cudaFree(void *p) { free(p); return cudaSuccess; }
static inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) {
  memmove(d, s, n);
  return cudaSuccess;
}
static inline cudaError_t cudaDeviceSynchronize(void) { return polyk_emu::last_error; }
static inline cudaError_t cudaGetDevice(int *d) { *d = 0; return cudaSuccess; }
static inline cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr, int) {
  *v = 0;
  return cudaErrorInvalidValue;
}

POLYK_EMU_API void polyk_emu_configure(int threads, int blocks, uint64_t seed, int poison,
                                       int strict_sync) {
  polyk_emu::cfg.threads = threads;
  polyk_emu::cfg.blocks = blocks;
  polyk_emu::cfg.seed = seed;
  polyk_emu::cfg.poison = poison;
  polyk_emu::cfg.strict_sync = strict_sync;
}
POLYK_EMU_API void polyk_emu_reset(void) {
  polyk_emu::last_error = cudaSuccess;
  polyk_emu::message.clear();
  polyk_emu::stat_launches = polyk_emu::stat_blocks = 0;
  polyk_emu::stat_threads = polyk_emu::stat_phases = 0;
}
// in a child process that runs one call: a fault records its address, then ends the process
static volatile uint64_t *polyk_emu_fault_slot = nullptr;
static void polyk_emu_on_fault(int sig, siginfo_t *si, void *) {
  if (polyk_emu_fault_slot) {
    polyk_emu_fault_slot[0] = (uint64_t)(uintptr_t)si->si_addr;
    polyk_emu_fault_slot[1] = (uint64_t)sig;
  }
  _exit(70);
}
POLYK_EMU_API void polyk_emu_catch_faults(uint64_t *slot) {
  static char altstack[1 << 16];     // serial threads (fibers) run on this thread
  stack_t ss;
  ss.ss_sp = altstack;
  ss.ss_size = sizeof altstack;
  ss.ss_flags = 0;
  sigaltstack(&ss, nullptr);
  polyk_emu_fault_slot = slot;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = polyk_emu_on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGSEGV, &sa, nullptr);
  sigaction(SIGBUS, &sa, nullptr);
}
POLYK_EMU_API const char *polyk_emu_message(void) { return polyk_emu::message.c_str(); }
POLYK_EMU_API void polyk_emu_stats(int64_t *out) {
  out[0] = polyk_emu::stat_launches;
  out[1] = polyk_emu::stat_blocks;
  out[2] = polyk_emu::stat_threads;
  out[3] = polyk_emu::stat_phases;
}
"""

THREAD_MODES = {"concurrent": 0, "forward": 1, "reverse": 2, "shuffle": 3}
BLOCK_ORDERS = {"forward": 0, "reverse": 1, "shuffle": 2}

_C_TYPES = {np.dtype(np.float64): ctypes.c_double, np.dtype(np.float32): ctypes.c_float,
            np.dtype(np.int64): ctypes.c_int64, np.dtype(np.int32): ctypes.c_int32}


class EmulationError(RuntimeError):
    """The emulated kernel failed: a launch error, a barrier in divergent code, a write out
    of bounds, a crash or a hang."""


# ---------------------------------------------------------------------- the source

_LAUNCH = re.compile(r"(?P<kernel>[A-Za-z_]\w*(?:\s*<[^<>;()]*>)?)\s*<<<(?P<config>.*?)>>>"
                     r"\s*\((?P<args>[^;]*)\)\s*;", re.S)
_SHARED = re.compile(r"(__shared__\s+[^;{}()]*?\b(?P<name>[A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)+;)")


def _split_top(text: str) -> list[str]:
    """Split at the commas outside any brackets."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


def emulator_source(source: str) -> str:
    """``source`` with its ``<<<...>>>`` launches turned into ``polyk_emu_launch`` calls and
    each ``__shared__`` array registered (to be poisoned at every block start)."""
    def launch(m):
        config = _split_top(m.group("config"))
        if not 2 <= len(config) <= 4:
            raise ValueError(f"cannot read the launch configuration <<<{m.group('config')}>>>")
        if len(config) >= 3 and config[2] not in ("0", "0u", "0ul", "0ull"):
            raise ValueError(f"dynamic shared memory ({config[2]}) is not emulated: "
                             f"{m.group(0)}")
        kernel = re.sub(r"\s+", "", m.group("kernel"))
        return (f"polyk_emu_launch(dim3({config[0]}), dim3({config[1]}), "
                f"[&]() {{ {kernel}({m.group('args')}); }}, \"{kernel}\");")

    out = _LAUNCH.sub(launch, source)
    if "<<<" in out:
        i = out.index("<<<")
        raise ValueError(f"a launch the emulator could not rewrite: {out[i - 80:i + 80]!r}")
    out = _SHARED.sub(lambda m: f"{m.group(1)} POLYK_EMU_SHARED({m.group('name')});", out)
    return out


# ---------------------------------------------------------------------- building

def cache_dir() -> str:
    d = os.environ.get("POLYK_EMU_CACHE") or os.path.join(
        tempfile.gettempdir(), f"polyk-cuda-emu-{os.getuid()}")
    os.makedirs(d, exist_ok=True)
    return d


def _atomic_write(path: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@functools.lru_cache(maxsize=None)
def include_dir() -> str:
    """A directory holding only the emulator's ``cuda_runtime.h``."""
    h = hashlib.sha256(HEADER.encode()).hexdigest()[:16]
    d = os.path.join(cache_dir(), f"include-{h}")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "cuda_runtime.h")
    if not os.path.exists(path) or open(path).read() != HEADER:
        _atomic_write(path, HEADER.encode())
    return d


@functools.lru_cache(maxsize=None)
def _compiler_identity() -> str:
    try:
        return subprocess.run([CXX, "--version"], capture_output=True, text=True,
                              timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


BASE_FLAGS = ("-std=c++20", "-O1", "-pthread", "-fPIC", "-shared",
              # each library keeps its own function-local statics (the shared arrays):
              # no STB_GNU_UNIQUE symbols merged across libraries, nothing exported but
              # the launcher and the emulator's controls
              "-fno-gnu-unique", "-fvisibility=hidden",
              "-ftrivial-auto-var-init=pattern",
              "-DPOLYK_NO_RUNTIME", '-DPOLYK_EXPORT=extern "C" '
              '__attribute__((visibility("default")))')


@functools.lru_cache(maxsize=None)
def unavailable() -> str | None:
    """Why the emulator cannot run here (None: it can): no g++, or no C++20 <barrier>."""
    if not shutil.which(CXX):
        return f"no C++ compiler ({CXX} not found)"
    probe = ('#include <cuda_runtime.h>\n'
             'template <typename I> __global__ void k(int *x) { __shared__ int s[4]; '
             's[threadIdx.x] = 1; __syncthreads(); x[threadIdx.x] = s[3 - threadIdx.x]; }\n'
             'POLYK_EXPORT int f(int *x) { k<int><<<1, 4>>>(x); return cudaPeekAtLastError(); }\n')
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "probe.cpp")
        with open(src, "w") as f:
            f.write(emulator_source(probe))
        proc = subprocess.run([CXX, *BASE_FLAGS, "-I", include_dir(), src, "-o",
                               os.path.join(d, "probe.so")], capture_output=True, text=True)
        if proc.returncode != 0:
            return (f"{CXX} cannot build the CUDA emulation (it needs C++20 <barrier> and "
                    f"<semaphore>): {proc.stderr.strip()[-600:]}")
    return None


def build(source: str, defines=()) -> str:
    """Path of a shared library of the emulated ``source`` (cached by a hash)."""
    text = emulator_source(source)
    flags = [*BASE_FLAGS, *defines]
    h = hashlib.sha256()
    for part in (text, HEADER, "\0".join(flags), _compiler_identity()):
        h.update(part.encode())
        h.update(b"\0\0")
    key = "emu-" + h.hexdigest()[:40]
    d = cache_dir()
    so = os.path.join(d, key + ".so")
    if os.path.exists(so):
        return so
    src = os.path.join(d, key + ".cpp")
    _atomic_write(src, text.encode())
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".so")
    os.close(fd)
    cmd = [CXX, *flags, "-I", include_dir(), src, "-o", tmp]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        os.unlink(tmp)
        raise EmulationError(f"g++ could not compile the emulated CUDA ({src}):\n"
                             f"{proc.stderr[-4000:]}")
    os.replace(tmp, so)
    return so


# ---------------------------------------------------------------------- running

_PAGE = mmap.PAGESIZE
_PROT_NONE = 0
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


@dataclass
class _Staged:
    """An array copied into (shared) memory between two inaccessible pages: with
    ``guard="end"`` its last byte touches the page after it (any access past the end
    faults) and at least GUARD bytes of 0xFF lie before it; with ``guard="start"`` its first
    byte follows the page before it (page-aligned, as cudaMalloc's memory is) and the 0xFF
    bytes lie after it. A write into the 0xFF bytes is found after the run; a read there
    reads NaN (floats) or -1 (integers)."""

    array: np.ndarray
    name: str
    buf: mmap.mmap = field(repr=False)
    base: int                                # address of the mapping
    offset: int                              # of the data in the mapping
    view: np.ndarray = field(repr=False)     # the data, same dtype and shape

    @classmethod
    def of(cls, array: np.ndarray, name: str, guard: str = "end") -> _Staged:
        if not array.flags["C_CONTIGUOUS"]:
            raise ValueError(f"{name} is not C-contiguous")
        n = array.nbytes
        pages = -(-(n + GUARD) // _PAGE)
        buf = mmap.mmap(-1, (pages + 2) * _PAGE)    # MAP_SHARED: a forked child writes here
        raw = np.frombuffer(buf, dtype=np.uint8)
        raw[:] = POISON
        base = raw.ctypes.data
        offset = _PAGE if guard == "start" else _PAGE + pages * _PAGE - n
        view = raw[offset:offset + n].view(array.dtype).reshape(array.shape)
        view[...] = array
        for at in (base, base + (pages + 1) * _PAGE):
            if _libc.mprotect(at, _PAGE, _PROT_NONE) != 0:
                raise OSError(ctypes.get_errno(), "mprotect failed")
        return cls(array, name, buf, base, offset, view)

    @property
    def address(self) -> int:
        return self.base + self.offset

    def _open_zone(self) -> np.ndarray:
        """The accessible bytes (the data and the 0xFF bytes), as uint8."""
        raw = np.frombuffer(self.buf, dtype=np.uint8)
        return raw[_PAGE:len(raw) - _PAGE]

    def check_guards(self) -> str | None:
        zone = self._open_zone()
        item = self.array.dtype.itemsize
        lo, hi = self.offset - _PAGE, self.offset - _PAGE + self.array.nbytes
        before = np.flatnonzero(zone[:lo] != POISON)
        after = np.flatnonzero(zone[hi:] != POISON)
        if before.size:
            return (f"a write before the start of {self.name} (element "
                    f"{(int(before[0]) - lo) // item}, {before.size} guard bytes changed)")
        if after.size:
            return (f"a write past the end of {self.name} ({self.array.size} elements; "
                    f"element {self.array.size + int(after[0]) // item} written, "
                    f"{after.size} guard bytes changed)")
        return None

    def describe_fault(self, addr: int) -> str | None:
        end = self.base + len(self.buf)
        if not (self.base <= addr < self.base + _PAGE or end - _PAGE <= addr < end):
            return None
        where = "before the start" if addr < self.address else "past the end"
        elem = (addr - self.address) // self.array.dtype.itemsize
        return (f"an access (read or write) {where} of {self.name} ({self.array.size} "
                f"elements; element {elem})")

    def copy_back(self) -> None:
        self.array[...] = self.view

    def close(self) -> None:
        self.view = None
        try:
            self.buf.close()
        except BufferError:          # a view still alive somewhere: the GC unmaps it
            pass


def _ctype_of(v):
    if isinstance(v, ctypes._SimpleCData):
        return v
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"a bool argument ({v!r}): pass an explicit C type")
    if isinstance(v, np.generic):
        return _C_TYPES[np.dtype(type(v))](v)
    if isinstance(v, int):
        return ctypes.c_int64(v)
    if isinstance(v, float):
        return ctypes.c_double(v)
    raise TypeError(f"cannot pass {v!r} to the emulated launcher")


@functools.lru_cache(maxsize=None)
def _load(so_path: str):
    lib = ctypes.CDLL(so_path, mode=os.RTLD_LOCAL)
    lib.polyk_emu_configure.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint64,
                                        ctypes.c_int, ctypes.c_int]
    lib.polyk_emu_message.restype = ctypes.c_char_p
    lib.polyk_emu_stats.argtypes = [ctypes.POINTER(ctypes.c_int64)]
    return lib


FAULT_EXIT = 70          # the child's exit status after a fault (see polyk_emu_catch_faults)


def _call(so_path, launcher, cargs, config, fault_slot=None) -> dict:
    """Load, configure and call: the part that may run in a child process."""
    lib = _load(so_path)
    if fault_slot is not None:
        lib.polyk_emu_catch_faults(ctypes.c_void_p(fault_slot))
    fn = getattr(lib, launcher)
    fn.restype = ctypes.c_int
    fn.argtypes = [type(a) for a in cargs]
    lib.polyk_emu_reset()
    lib.polyk_emu_configure(*config)
    t0 = time.perf_counter()
    rc = fn(*cargs)
    dt = time.perf_counter() - t0
    stats = (ctypes.c_int64 * 4)()
    lib.polyk_emu_stats(stats)
    return {"rc": rc, "message": lib.polyk_emu_message().decode(errors="replace"),
            "seconds": dt, "launches": stats[0], "blocks": stats[1], "threads": stats[2],
            "phases": stats[3]}


def _in_child(work, timeout: float) -> dict:
    """``work()`` (returning a JSON-able dict) in a forked child; its crash or hang raises."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                        # the child
        code = 0
        try:
            os.close(r)
            import faulthandler
            faulthandler.disable()          # a crash is reported by the parent, briefly
            out = work()
        except BaseException:                           # noqa: BLE001 - reported to the parent
            out = {"exception": traceback.format_exc()}
            code = 1
        try:
            data = json.dumps(out).encode()
            while data:
                data = data[os.write(w, data):]
        finally:
            os._exit(code)
    os.close(w)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise EmulationError(f"the emulated kernel did not finish in {timeout:g} s "
                                     "(a hang: a deadlock at a barrier, or an endless loop)")
            ready, _, _ = select.select([r], [], [], left)
            if ready:
                chunk = os.read(r, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        raise EmulationError(f"the emulated kernel crashed ({sig})")
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == FAULT_EXIT:
        return {"fault": True}
    out = json.loads(b"".join(chunks) or b"{}")
    if "exception" in out:
        raise EmulationError("the emulation failed in the child process:\n" + out["exception"])
    return out


def run_emulated(kernel_source: str | None, launcher_name: str, args, *, so_path=None,
                 names=None, threads="concurrent", blocks="forward", seed=1, poison=True,
                 strict_sync=True, guard="end", isolate=True, timeout=120.0,
                 defines=()) -> dict:
    """Build ``kernel_source`` for the emulator (or take ``so_path``) and call
    ``launcher_name(*args)``: NumPy arrays are passed as pointers (into guarded copies, whose
    results are copied back into the arrays, read-only ones included; ``guard``: which end
    of each array touches an inaccessible page, see ``_Staged``), Python ints as int64,
    floats as double, NumPy scalars and ctypes values as their C type. Returns what the run
    did (``launches``, ``blocks``, ``threads``, ``phases``: barrier intervals, ``seconds``);
    raises ``EmulationError`` where the launcher returns an error, an array's guard zone was
    written, or the run crashed or hung."""
    if so_path is None:
        so_path = build(kernel_source, defines)
    if threads not in THREAD_MODES or blocks not in BLOCK_ORDERS or guard not in ("start", "end"):
        raise ValueError(f"threads must be one of {list(THREAD_MODES)}, blocks one of "
                         f"{list(BLOCK_ORDERS)}, guard 'start' or 'end'")
    names = list(names) if names is not None else [f"argument {i}" for i in range(len(args))]
    staged, cargs = [], []
    try:
        for name, v in zip(names, args):
            if isinstance(v, np.ndarray):
                s = _Staged.of(v, name, guard)
                staged.append(s)
                cargs.append(ctypes.c_void_p(s.address))
            else:
                cargs.append(_ctype_of(v))
        config = (THREAD_MODES[threads], BLOCK_ORDERS[blocks], int(seed), int(bool(poison)),
                  int(bool(strict_sync)))
        if isolate:
            slot = mmap.mmap(-1, 16)
            slot_at = np.frombuffer(slot, dtype=np.uint64)
            out = _in_child(lambda: _call(so_path, launcher_name, cargs, config,
                                          slot_at.ctypes.data), timeout)
            if out.get("fault"):
                addr, sig = (int(x) for x in slot_at)
                where = [d for d in (st.describe_fault(addr) for st in staged) if d]
                raise EmulationError(
                    f"{launcher_name}: the emulated kernel faulted ("
                    f"{signal.Signals(sig).name if sig else 'signal'} at {addr:#x}): "
                    + (where[0] if where else "an address outside every array's guard pages"))
        else:
            out = _call(so_path, launcher_name, cargs, config)
        problems = [p for p in (s.check_guards() for s in staged) if p]
        if out["rc"] != 0:
            raise EmulationError(f"{launcher_name} returned {out['rc']}: "
                                 f"{out['message'] or 'a launch error'}")
        if problems:
            raise EmulationError(f"{launcher_name}: " + "; ".join(problems))
        for s in staged:
            s.copy_back()
        return out
    finally:
        for s in staged:
            s.close()


# ---------------------------------------------------------------------- a polyk kernel

class EmulatedKernel:
    """A polyk CUDA kernel (``polyk.generate(op, target="cuda", compile=False)``) run by the
    emulator: called like the real one (arrays and scalars by position or name, parameters
    by keyword or from shapes), so ``polyk.check(EmulatedKernel(k), reference, sizes)``
    works. The launcher's arguments come from polyk's own metadata: ``k.module.params``
    (int64 each), then ``k.module.args`` (arrays as pointers, scalars by value)."""

    def __init__(self, kernel, *, threads="concurrent", blocks="forward", seed=1,
                 guard="end", isolate=True, timeout=120.0, index64=None):
        self.kernel = kernel
        self.op = kernel.op
        self.scop = kernel.scop
        self.module = kernel.module
        self.name = kernel.name
        self.threads, self.blocks, self.seed, self.guard = threads, blocks, seed, guard
        self.isolate, self.timeout = isolate, timeout
        cflags = tuple(getattr(kernel.options, "cflags", ()) or ())
        defines = [f for f in cflags if f.startswith(("-D", "-U"))]
        if index64 is True and "-DPOLYK_INDEX64" not in defines:
            defines.append("-DPOLYK_INDEX64")
        elif index64 is False:
            defines = [f for f in defines if f != "-DPOLYK_INDEX64"]
        self.defines = tuple(defines)
        self.so_path = build(kernel.source, self.defines)
        self.last_run: dict | None = None

    def __call__(self, *args, **kwargs) -> None:
        b = self.kernel.bind(args, kwargs)
        from polyk.codegen import cuda_runtime
        ctypes_of = cuda_runtime._CTYPES
        values, names = [], []
        for p in self.module.params:
            values.append(ctypes.c_int64(int(b.params[p])))
            names.append(p)
        for a in self.module.args:
            v = b.values[a.name]
            values.append(v if a.is_array else ctypes_of[a.dtype.name](v))
            names.append(a.name)
        self.last_run = run_emulated(None, self.module.name, values, so_path=self.so_path,
                                     names=names, threads=self.threads, blocks=self.blocks,
                                     seed=self.seed, guard=self.guard, isolate=self.isolate,
                                     timeout=self.timeout)

    def with_schedule(self, *, threads=None, blocks=None, seed=None,
                      guard=None) -> EmulatedKernel:
        """The same library run under another thread/block order (or array guard)."""
        other = object.__new__(EmulatedKernel)
        other.__dict__.update(self.__dict__)
        other.threads = threads or self.threads
        other.blocks = blocks or self.blocks
        other.seed = self.seed if seed is None else seed
        other.guard = guard or self.guard
        other.last_run = None
        return other
