"""Fused CPU kernels for a GLU layer's ghost batch norm + gating (compiled once per machine).

A GLU layer's training step, after its GEMM, is ``y = ghost_bn(h); o = y_a · σ(y_b)`` forward and
the matching ``glu_backward`` + ``batch_norm_backward``. With ATen's kernels that is four calls and
six passes over ``[B, 2F]`` per layer, 24 layers per step for a 5-step TabNet. The two functions here
do the same maths in two passes each (forward: statistics, then normalise-and-gate without writing
``y``, adding the residual ``s·x`` when given; backward: recompute ``y`` to get ``dy`` and its
sums, then ``dh``):

    bn_glu_fwd(h [B, 2F], n, γ [n·2F], β [n·2F], eps, x | None, s) -> (o [B, F], mean [n·2F], invstd [n·2F])
    bn_glu_bwd(g [B, F], h, n, mean, invstd, γ, β)     -> (dh [B, 2F], dγ [n·2F], dβ [n·2F])

``h`` is viewed as ``[B/n, n·2F]`` (virtual batch k = rows k, k+n, …, as in
:class:`~.layers.GhostBatchNorm`); γ/β are the tiled per-(chunk, feature) affine. Float32 and
float64; results equal ATen's to rounding (``tests/test_tabnet_fused.py`` compares both paths).

The C++ source is compiled with ``torch.utils.cpp_extension`` (needs a C++ compiler and ninja) the
first time a TabNet trains, into ``~/.cache/gridcrit/tabnet-kernels/<key>`` — the key hashes the
source, flags, torch version and location (one build per environment) and the CPU's flags, because it
is built for this CPU (``-march=native``).
If it cannot be built the ATen path is used (one warning). ``GRIDCRIT_TABNET_NATIVE=0`` turns it off.

A second, separately compiled module holds the **mask normalisers' forward passes**
(``sparsemax_fwd``: one pass per row — copy, insertion sort, running sums, threshold — instead
of ATen's 7 calls with a ``sort``; entmax-1.5 in two such passes around ATen's own ``sqrt``, whose
float results are not the correctly rounded ones, instead of 14 calls). They repeat
:mod:`.sparsemax`'s PyTorch operations in the same order and precision (the running sums
accumulate in double and round at each step, as ATen's ``cumsum`` does), and are compiled
without ``-ffast-math`` and with ``-ffp-contract=off`` so that nothing is reordered or fused:
their outputs are bit-identical to the PyTorch path (``tests/test_tabnet_layers.py`` checks it on
random, tied and extreme inputs, and that a fit gives identical predictions either way), so
switching them on or off changes no result. A row holding NaN gives a NaN row.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

_SOURCE = r"""
#include <torch/extension.h>
#include <cmath>
#include <vector>

// forward: per channel c of the [R, C] view (C = n*2F) mean and invstd (two passes, as ATen), then
// o = y_a * sigmoid(y_b) with y = h*a + b, a = invstd*gamma, b = beta - mean*a (y is not stored)
template <typename T>
static void fwd_impl(const T* __restrict h, int64_t R, int64_t n, int64_t F2, const T* __restrict gam,
                     const T* __restrict bet, double eps, const T* __restrict res, double scale, T* __restrict o,
                     T* __restrict mean, T* __restrict invstd) {
  const int64_t C = n * F2, F = F2 / 2;
  std::vector<T> s(C, T(0)), a(C), b(C);
  for (int64_t r = 0; r < R; ++r) {
    const T* hr = h + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) s[c] += hr[c];
  }
  for (int64_t c = 0; c < C; ++c) { mean[c] = s[c] / T(R); s[c] = T(0); }
  for (int64_t r = 0; r < R; ++r) {
    const T* hr = h + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) { T d = hr[c] - mean[c]; s[c] += d * d; }
  }
  for (int64_t c = 0; c < C; ++c) {
    invstd[c] = T(1) / std::sqrt(s[c] / T(R) + T(eps));
    a[c] = invstd[c] * gam[c];
    b[c] = bet[c] - mean[c] * a[c];
  }
  for (int64_t r = 0; r < R; ++r) {
    const T* hr = h + r * C;
    T* orow = o + r * n * F;
    for (int64_t k = 0; k < n; ++k) {
      const T* hk = hr + k * F2; const T* ak = a.data() + k * F2; const T* bk = b.data() + k * F2;
      T* ok = orow + k * F;
      const T* xk = res != nullptr ? res + r * n * F + k * F : nullptr;  // residual layer (GCC unswitches)
      const T sc = T(scale);
#pragma omp simd
      for (int64_t j = 0; j < F; ++j) {
        T ya = hk[j] * ak[j] + bk[j];
        T yb = hk[F + j] * ak[F + j] + bk[F + j];
        T out = ya / (T(1) + std::exp(-yb));  // the affine already carries the residual scale
        ok[j] = xk != nullptr ? out + sc * xk[j] : out;
      }
    }
  }
}

// backward: dy = glu'(y) g (into dh as scratch) with the per-channel sums dbeta = sum dy and
// dgamma = sum dy*xhat, then dh = a*(dy - dbeta/R - xhat*dgamma/R)
template <typename T>
static void bwd_impl(const T* __restrict g, const T* __restrict h, int64_t R, int64_t n, int64_t F2,
                     const T* __restrict mean, const T* __restrict invstd, const T* __restrict gam,
                     const T* __restrict bet, T* __restrict dh, T* __restrict dgam, T* __restrict dbet) {
  const int64_t C = n * F2, F = F2 / 2;
  std::vector<T> a(C), b(C);
  for (int64_t c = 0; c < C; ++c) {
    a[c] = invstd[c] * gam[c]; b[c] = bet[c] - mean[c] * a[c]; dgam[c] = T(0); dbet[c] = T(0);
  }
  for (int64_t r = 0; r < R; ++r) {
    const T* hr = h + r * C; const T* gr = g + r * n * F; T* dr = dh + r * C;
    for (int64_t k = 0; k < n; ++k) {
      const T* hk = hr + k * F2; const T* ak = a.data() + k * F2; const T* bk = b.data() + k * F2;
      const T* gk = gr + k * F; T* dk = dr + k * F2;
#pragma omp simd
      for (int64_t j = 0; j < F; ++j) {
        T ya = hk[j] * ak[j] + bk[j];
        T yb = hk[F + j] * ak[F + j] + bk[F + j];
        T sg = T(1) / (T(1) + std::exp(-yb));
        T ga = gk[j] * sg;
        dk[j] = ga;
        dk[F + j] = ga * ya * (T(1) - sg);
      }
    }
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      T d = dr[c];
      dbet[c] += d;
      dgam[c] += d * (hr[c] - mean[c]) * invstd[c];
    }
  }
  std::vector<T> m1(C), m2(C);
  for (int64_t c = 0; c < C; ++c) { m1[c] = dbet[c] / T(R); m2[c] = dgam[c] * invstd[c] / T(R); }
  for (int64_t r = 0; r < R; ++r) {
    const T* hr = h + r * C; T* dr = dh + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) dr[c] = a[c] * (dr[c] - m1[c] - (hr[c] - mean[c]) * m2[c]);
  }
}

std::vector<torch::Tensor> bn_glu_fwd(torch::Tensor h, int64_t n, torch::Tensor gam, torch::Tensor bet, double eps,
                                      c10::optional<torch::Tensor> res, double scale) {
  TORCH_CHECK(h.dim() == 2 && h.is_contiguous() && h.size(0) % n == 0 && h.size(1) % 2 == 0, "bn_glu_fwd: bad h");
  TORCH_CHECK(gam.is_contiguous() && bet.is_contiguous() && gam.numel() == n * h.size(1), "bn_glu_fwd: bad affine");
  TORCH_CHECK(!res.has_value() || (res->is_contiguous() && res->size(0) == h.size(0) && 2 * res->size(1) == h.size(1)
              && res->scalar_type() == h.scalar_type()), "bn_glu_fwd: bad residual");
  const int64_t B = h.size(0), F2 = h.size(1);
  auto o = torch::empty({B, F2 / 2}, h.options());
  auto mean = torch::empty({n * F2}, h.options());
  auto inv = torch::empty({n * F2}, h.options());
  AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "bn_glu_fwd", [&] {
    fwd_impl<scalar_t>(h.data_ptr<scalar_t>(), B / n, n, F2, gam.data_ptr<scalar_t>(), bet.data_ptr<scalar_t>(), eps,
                       res.has_value() ? res->data_ptr<scalar_t>() : nullptr, scale, o.data_ptr<scalar_t>(),
                       mean.data_ptr<scalar_t>(), inv.data_ptr<scalar_t>());
  });
  return {o, mean, inv};
}

std::vector<torch::Tensor> bn_glu_bwd(torch::Tensor g, torch::Tensor h, int64_t n, torch::Tensor mean,
                                      torch::Tensor inv, torch::Tensor gam, torch::Tensor bet) {
  TORCH_CHECK(g.is_contiguous() && h.is_contiguous() && g.size(0) == h.size(0) && 2 * g.size(1) == h.size(1),
              "bn_glu_bwd: bad shapes");
  const int64_t B = h.size(0), F2 = h.size(1);
  auto dh = torch::empty_like(h);
  auto dg = torch::empty({n * F2}, h.options());
  auto db = torch::empty({n * F2}, h.options());
  AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "bn_glu_bwd", [&] {
    bwd_impl<scalar_t>(g.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(), B / n, n, F2, mean.data_ptr<scalar_t>(),
                       inv.data_ptr<scalar_t>(), gam.data_ptr<scalar_t>(), bet.data_ptr<scalar_t>(),
                       dh.data_ptr<scalar_t>(), dg.data_ptr<scalar_t>(), db.data_ptr<scalar_t>());
  });
  return {dh, dg, db};
}
"""

# -ffast-math lets GCC call glibc's vector exp (libmvec) inside the simd loops; the loops have no
# NaN/inf special cases that it could drop (a NaN input still gives NaN outputs; checked).
_FLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp-simd"]

_MASK_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

// The operations of gridcrit.models.tabnet.sparsemax's PyTorch path, row by row, in the same order
// and precision: ATen's cumsum accumulates float in double (acc_type) and rounds at each position;
// every other step is one IEEE operation in T. Compiled without -ffast-math and with
// -ffp-contract=off, so the results are bit-identical to the PyTorch path.

template <typename T>
static void sort_desc(T* v, int64_t d) {
  if (d > 32) { std::sort(v, v + d, std::greater<T>()); return; }
  for (int64_t i = 1; i < d; ++i) {  // insertion sort: a row has one entry per feature
    T x = v[i];
    int64_t j = i - 1;
    while (j >= 0 && v[j] < x) { v[j + 1] = v[j]; --j; }
    v[j + 1] = x;
  }
}

template <typename T>
static bool fill_nan_if_any(const T* z, T* o, int64_t d) {
  bool nan = false;
  for (int64_t j = 0; j < d; ++j) nan |= std::isnan(z[j]);
  if (nan) for (int64_t j = 0; j < d; ++j) o[j] = std::numeric_limits<T>::quiet_NaN();
  return nan;
}

template <typename T>
static inline T clamp0(T x) { return x < T(0) ? T(0) : x; }  // clamp(min=0): keeps NaN and -0.0, as ATen

// tau = max_k (cumsum(sorted)_k - 1) / k ; out = clamp(z - tau, 0)
template <typename T>
static void sparsemax_rows(const T* z, T* out, int64_t r0, int64_t r1, int64_t d) {
  std::vector<T> s(d);
  for (int64_t r = r0; r < r1; ++r) {
    const T* zr = z + r * d;
    T* o = out + r * d;
    if (fill_nan_if_any(zr, o, d)) continue;
    std::copy(zr, zr + d, s.begin());
    sort_desc(s.data(), d);
    double acc = 0.0;
    T tau = -std::numeric_limits<T>::infinity();
    bool nan_tau = false;
    for (int64_t k = 0; k < d; ++k) {
      acc += static_cast<double>(s[k]);
      T f = (static_cast<T>(acc) - T(1)) / static_cast<T>(k + 1);
      if (std::isnan(f)) nan_tau = true;  // amax propagates NaN (inf - inf)
      else if (f > tau) tau = f;
    }
    if (nan_tau) tau = std::numeric_limits<T>::quiet_NaN();
    for (int64_t j = 0; j < d; ++j) o[j] = clamp0(zr[j] - tau);
  }
}

// entmax-1.5 in two passes around ATen's sqrt (a separate call, because ATen's float sqrt is not
// the correctly rounded one — it goes through MKL — so only ATen itself reproduces it):
// prep:   z = z/2 - max, s = sorted z, mean_k, delta_k = clamp((1 - k (meansq_k - mean_k^2)) / k, 0)
// finish: tau_k = mean_k - sqrt(delta_k), support = #{k : tau_k <= s_k}, out = clamp(z - tau_support, 0)^2
template <typename T>
static void entmax15_prep_rows(const T* z, T* zz, T* s, T* mean, T* delta, int64_t r0, int64_t r1, int64_t d) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* zr = z + r * d;
    T *zo = zz + r * d, *so = s + r * d, *mo = mean + r * d, *dl = delta + r * d;
    if (fill_nan_if_any(zr, zo, d)) {  // NaN rows stay NaN through finish
      for (int64_t j = 0; j < d; ++j) so[j] = mo[j] = dl[j] = zo[j];
      continue;
    }
    for (int64_t j = 0; j < d; ++j) zo[j] = zr[j] / T(2);
    T mx = *std::max_element(zo, zo + d);
    for (int64_t j = 0; j < d; ++j) zo[j] = zo[j] - mx;
    std::copy(zo, zo + d, so);
    sort_desc(so, d);
    double a1 = 0.0, a2 = 0.0;
    for (int64_t k = 0; k < d; ++k) {
      const T rho = static_cast<T>(k + 1);
      a1 += static_cast<double>(so[k]);
      const T sq = so[k] * so[k];
      a2 += static_cast<double>(sq);
      const T m = static_cast<T>(a1) / rho;
      const T mean_sq = static_cast<T>(a2) / rho;
      const T mm = m * m;
      const T ss = rho * (mean_sq - mm);
      mo[k] = m;
      dl[k] = clamp0((T(1) - ss) / rho);
    }
  }
}

template <typename T>
static void entmax15_finish_rows(const T* zz, const T* s, const T* mean, const T* root, T* out, int64_t r0,
                                 int64_t r1, int64_t d) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t o = r * d;
    int64_t support = 0;
    for (int64_t k = 0; k < d; ++k) support += (mean[o + k] - root[o + k]) <= s[o + k];
    if (support == 0) {  // NaN rows (ATen's gather(-1) would raise)
      for (int64_t j = 0; j < d; ++j) out[o + j] = std::numeric_limits<T>::quiet_NaN();
      continue;
    }
    const T ts = mean[o + support - 1] - root[o + support - 1];
    for (int64_t j = 0; j < d; ++j) { T x = clamp0(zz[o + j] - ts); out[o + j] = x * x; }
  }
}

static void check2d(const torch::Tensor& t, const char* what) {
  TORCH_CHECK(t.dim() == 2 && t.is_contiguous() && t.device().is_cpu(), what, ": need a contiguous 2-D CPU tensor");
}

// f(T{}, r0, r1) on row blocks of `like` (float or double), in parallel when torch has threads
template <typename F>
static void over_rows(const torch::Tensor& like, F f) {
  if (like.size(0) == 0 || like.size(1) == 0) return;
  AT_DISPATCH_FLOATING_TYPES(like.scalar_type(), "tabnet_mask_rows", [&] {
    at::parallel_for(0, like.size(0), 256, [&](int64_t r0, int64_t r1) { f(scalar_t(0), r0, r1); });
  });
}

torch::Tensor sparsemax_fwd(torch::Tensor z) {
  check2d(z, "sparsemax_fwd");
  auto out = torch::empty_like(z);
  over_rows(z, [&](auto tag, int64_t r0, int64_t r1) {
    using T = decltype(tag);
    sparsemax_rows(z.data_ptr<T>(), out.data_ptr<T>(), r0, r1, z.size(1));
  });
  return out;
}

std::vector<torch::Tensor> entmax15_prep(torch::Tensor z) {
  check2d(z, "entmax15_prep");
  auto zz = torch::empty_like(z), s = torch::empty_like(z), mean = torch::empty_like(z), delta = torch::empty_like(z);
  over_rows(z, [&](auto tag, int64_t r0, int64_t r1) {
    using T = decltype(tag);
    entmax15_prep_rows(z.data_ptr<T>(), zz.data_ptr<T>(), s.data_ptr<T>(), mean.data_ptr<T>(), delta.data_ptr<T>(),
                       r0, r1, z.size(1));
  });
  return {zz, s, mean, delta};
}

torch::Tensor entmax15_finish(torch::Tensor zz, torch::Tensor s, torch::Tensor mean, torch::Tensor root) {
  for (auto* t : {&zz, &s, &mean, &root}) {
    check2d(*t, "entmax15_finish");
    TORCH_CHECK(t->sizes() == zz.sizes() && t->scalar_type() == zz.scalar_type(), "entmax15_finish: shapes/dtypes differ");
  }
  auto out = torch::empty_like(zz);
  over_rows(zz, [&](auto tag, int64_t r0, int64_t r1) {
    using T = decltype(tag);
    entmax15_finish_rows(zz.data_ptr<T>(), s.data_ptr<T>(), mean.data_ptr<T>(), root.data_ptr<T>(), out.data_ptr<T>(),
                         r0, r1, zz.size(1));
  });
  return out;
}
"""

# exactness over speed: no -ffast-math (no reassociation, no reciprocal division), no FMA contraction
_MASK_FLAGS = ["-O3", "-march=native", "-ffp-contract=off"]

_enabled = os.environ.get("GRIDCRIT_TABNET_NATIVE", "1") != "0"


def _cpu_signature() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _build(tag: str = "tabnet", source: str = _SOURCE, functions: tuple[str, ...] = ("bn_glu_fwd", "bn_glu_bwd"),
           flags: list[str] = _FLAGS, what: str = "TabNet CPU kernels") -> Any:
    import shutil

    from torch.utils.cpp_extension import load_inline

    venv_bin = str(Path(sys.executable).parent)
    if shutil.which("ninja") is None and shutil.which("ninja", path=venv_bin):
        # the `ninja` wheel installs next to this interpreter, which need not be on PATH
        os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")

    # torch.__file__: each environment gets its own build (the generated build file holds its include paths,
    # so two virtual environments sharing one folder would rebuild every time they alternate)
    key = hashlib.sha1("\0".join([source, *flags, torch.__version__, torch.__file__, _cpu_signature()]).encode())
    key = key.hexdigest()[:12]
    build_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gridcrit" / "tabnet-kernels" / key
    build_dir.mkdir(parents=True, exist_ok=True)
    if not any(build_dir.glob("*.so")):
        print(f"gridcrit: compiling {what} once for this machine (~30 s)…", file=sys.stderr, flush=True)
    return load_inline(f"gridcrit_{tag}_{key}", cpp_sources=source, functions=list(functions),
                       extra_cflags=flags, build_directory=str(build_dir), verbose=False)


def _build_or_warn(what: str, fallback: str, **build: Any) -> Any | None:
    try:
        return _build(what=what, **build)
    except Exception as exc:  # no compiler / ninja / headers: the ATen path works everywhere
        last = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        warnings.warn(f"gridcrit: {what} could not be built ({type(exc).__name__}: {last}); using {fallback}",
                      RuntimeWarning, stacklevel=3)
        return None


@functools.cache
def built() -> Any | None:
    """The compiled module (``bn_glu_fwd``, ``bn_glu_bwd``), built on first call; None if it cannot be."""
    return _build_or_warn("TabNet CPU kernels", "PyTorch's kernels (same maths, slower)")


@functools.cache
def built_masks() -> Any | None:
    """The compiled mask normalisers (``sparsemax_fwd``, ``entmax15_prep`` / ``entmax15_finish``), built on
    first call; None if they cannot be (the PyTorch path gives the same results)."""
    return _build_or_warn("TabNet mask kernels", "PyTorch's operations (identical results, slower)",
                          tag="tabnet_masks", source=_MASK_SOURCE,
                          functions=("sparsemax_fwd", "entmax15_prep", "entmax15_finish"), flags=_MASK_FLAGS)


def mask_kernels() -> Any | None:
    """The compiled mask normalisers if enabled (as :func:`kernels`) and buildable, else None."""
    return built_masks() if _enabled else None


def kernels() -> Any | None:
    """The compiled module if enabled (``GRIDCRIT_TABNET_NATIVE``, :func:`set_enabled`) and buildable, else None."""
    return built() if _enabled else None


def set_enabled(flag: bool) -> bool:
    """Turn the compiled kernels on/off for this process (tests, comparisons); returns the old setting."""
    global _enabled
    old, _enabled = _enabled, bool(flag)
    return old
