"""Compiled (numba) kernel of lazy interval bound propagation; see :mod:`._lazy_ibp`.

Imported only when the lazy kernel runs (numba takes ~0.3 s to import and compiles the kernel
on first use, cached on disk afterwards). Every function here is a plain loop over one point
at a time; the proofs of the rounding bounds are in :mod:`._lazy_ibp`.

Layout (built by :func:`._lazy_ibp.plan_for`): the neurons of all layers are numbered
globally, layer ``l`` holding ``off[l] .. off[l+1] - 1``. Row ``g`` of the global CSR
``(ptr, idx, dat, bias)`` is neuron ``g``'s weights; for a first-layer neuron its columns are
input coordinates, otherwise global numbers of neurons of the previous layer. In hidden layers
``>= 1`` each row lists its positive weights first (``npos[g]`` of them).

Input modes for the first layer: ``0`` box ``[lo_in, hi_in]``; ``1`` centre ``cen`` with
radius ``rad * qn[g]`` (``qn`` an upper bound on the row's dual norm); ``2`` both, intersected.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_INF = np.inf


@njit(cache=True, nogil=True)
def _guard_lo(v):
    """NaN (from inf - inf after an overflow) means nothing is known: -inf."""
    return -_INF if v != v else v


@njit(cache=True, nogil=True)
def _guard_hi(v):
    return _INF if v != v else v


@njit(cache=True, nogil=True, inline="always")
def _add_term(plo, phi, pab, w, a, c, m):
    """Add ``w · [a, c]`` to the running ends ``(plo, phi)`` (one rounded product and one
    rounded sum each) and ``|w| m`` to the running magnitude ``pab`` (``m ≥ max(|a|, |c|)``)."""
    if w > 0.0:
        return plo + w * a, phi + w * c, pab + abs(w) * m
    return plo + w * c, phi + w * a, pab + abs(w) * m


@njit(cache=True, nogil=True)
def _first_row(g, ptr, idx, dat, bias, mode, lo_in, hi_in, cen, rad, qn, G0, K0):
    s, e = ptr[g], ptr[g + 1]
    b = bias[g]
    lo = -_INF
    hi = _INF
    if mode != 1:  # box form
        plo = b
        phi = b
        pab = abs(b)
        for k in range(s, e):
            j = idx[k]
            w = dat[k]
            lj = lo_in[j]
            uj = hi_in[j]
            plo, phi, pab = _add_term(plo, phi, pab, w, lj, uj, max(abs(lj), abs(uj)))
        T = G0 * pab + K0
        lo = np.nextafter(plo - T, -_INF)
        hi = np.nextafter(phi + T, _INF)
    if mode != 0:  # centre form with the dual norm
        pc = b
        pab = abs(b)
        for k in range(s, e):
            w = dat[k]
            x = cen[idx[k]]
            pc += w * x
            pab += abs(w) * abs(x)
        T = G0 * pab + K0
        R = np.nextafter(rad * qn[g], _INF)
        S = np.nextafter(T + R, _INF)
        lo = max(lo, np.nextafter(pc - S, -_INF))
        hi = min(hi, np.nextafter(pc + S, _INF))
    return _guard_lo(lo), _guard_hi(hi)


@njit(cache=True, nogil=True)
def lazy_chunk(
    p0,
    p1,
    stamp0,
    mode,
    LOIN,
    HIIN,
    CEN,
    RAD,
    qn,
    ptr,
    idx,
    dat,
    bias,
    npos,
    off,
    G,
    K,
    out_lo,
    out_hi,
    LO,
    HI,
    STAMP,
    stats,
):
    """Output bounds of points ``p0 .. p1 - 1`` into ``out_lo/out_hi`` (rows p - p0).

    ``LO/HI/STAMP`` are this worker's memo (post-ReLU bounds of hidden neurons; a neuron is
    known for point p iff ``STAMP[g] == stamp0 + p``). ``stats`` accumulates (neurons
    evaluated, early exits, weight terms read).
    """
    L = off.size - 1
    first_out = off[L - 1]
    n_out = off[L] - first_out
    sg = np.empty(L, np.int64)
    sl = np.empty(L, np.int64)
    sc = np.empty(L, np.int64)
    slo = np.empty(L)
    shi = np.empty(L)
    sab = np.empty(L)
    lo_in = LOIN[0]
    hi_in = HIIN[0]
    cen = CEN[0]
    evaluated = 0
    exits = 0
    terms = 0
    for p in range(p0, p1):
        st = stamp0 + p
        if mode != 1:
            lo_in = LOIN[p - p0]
            hi_in = HIIN[p - p0]
        if mode != 0:
            cen = CEN[p - p0]
        rad = RAD[p - p0]
        for o in range(n_out):
            g0 = first_out + o
            if L == 1:
                lo, hi = _first_row(
                    g0, ptr, idx, dat, bias, mode, lo_in, hi_in, cen, rad, qn, G[0], K[0]
                )
                out_lo[p - p0, o] = lo
                out_hi[p - p0, o] = hi
                continue
            sp = 1
            sg[0] = g0
            sl[0] = L - 1
            sc[0] = ptr[g0]
            slo[0] = bias[g0]
            shi[0] = bias[g0]
            sab[0] = abs(bias[g0])
            while sp > 0:
                t = sp - 1
                g = sg[t]
                lay = sl[t]
                cur = sc[t]
                plo = slo[t]
                phi = shi[t]
                pab = sab[t]
                end = ptr[g + 1]
                posend = ptr[g] + npos[g]
                relu = lay < L - 1
                Gl = G[lay]
                Kl = K[lay]
                pushed = False
                dead = False
                while cur < end:
                    j = idx[cur]
                    if STAMP[j] != st:
                        if lay == 1:
                            a, c = _first_row(
                                j, ptr, idx, dat, bias, mode, lo_in, hi_in, cen, rad, qn, G[0], K[0]
                            )
                            LO[j] = max(a, 0.0)
                            HI[j] = max(c, 0.0)
                            STAMP[j] = st
                            evaluated += 1
                        else:
                            sc[t] = cur
                            slo[t] = plo
                            shi[t] = phi
                            sab[t] = pab
                            sg[sp] = j
                            sl[sp] = lay - 1
                            sc[sp] = ptr[j]
                            slo[sp] = bias[j]
                            shi[sp] = bias[j]
                            sab[sp] = abs(bias[j])
                            sp += 1
                            pushed = True
                            break
                    c = HI[j]
                    plo, phi, pab = _add_term(plo, phi, pab, dat[cur], LO[j], c, c)
                    cur += 1
                    terms += 1
                    if relu and cur >= posend and phi + (Gl * pab + Kl) <= 0.0:
                        dead = cur < end
                        break
                if pushed:
                    continue
                sp -= 1
                evaluated += 1
                if dead:
                    exits += 1
                    LO[g] = 0.0
                    HI[g] = 0.0
                    STAMP[g] = st
                    continue
                T = Gl * pab + Kl
                lo = _guard_lo(np.nextafter(plo - T, -_INF))
                hi = _guard_hi(np.nextafter(phi + T, _INF))
                if relu:
                    LO[g] = max(lo, 0.0)
                    HI[g] = max(hi, 0.0)
                    STAMP[g] = st
                else:
                    out_lo[p - p0, g - first_out] = lo
                    out_hi[p - p0, g - first_out] = hi
    stats[0] += evaluated
    stats[1] += exits
    stats[2] += terms
