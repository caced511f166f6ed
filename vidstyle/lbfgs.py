"""L-BFGS whose iteration never waits for the device: the history as two matrices, the two-loop
recursion as two triangular solves.

``torch.optim.LBFGS`` keeps its curvature pairs as Python lists and runs the two-loop recursion
(Nocedal & Wright, Algorithm 7.4) pair by pair: about four small operations per pair and loop, and
``add_(..., alpha=tensor)`` turns each 0-dim ``alpha`` into a Python number, i.e. two host-device
synchronisations per remembered pair on CUDA (a profile counted 177 ``aten::item`` an iteration at
history 86; docs/BENCHMARKS.md, "Recommendations"). Its skip rule (``if ys > 1e-10``) and its
stopping tests (``gtd > -tolerance``, ``opt_cond``) are further syncs.

Here the history is one (2m, n) tensor, ``pairs``: rows 0..m-1 the steps s, rows m..2m-1 the
gradient changes y, filled as a ring. Each iteration reads it twice, in one matrix product each:
``pairs @ [g, s_new, y_new]`` gives every inner product the recursion needs (sᵢ·g, yᵢ·g, and the new
row and column of the m×m matrices S·Yᵀ and Y·Yᵀ, kept between iterations), and ``pairsᵀ @ c``
applies the result. In between, the two loops become two unit-triangular m×m solves, because
each loop's coefficient is an inner product with a vector the earlier coefficients built:

    loop 1 (newest first):  α_p = ρ_p (s_p·g − Σ_{q newer} α_q s_p·y_q)
                            → (I + diag(ρ) L) α = ρ ⊙ (S g),          L_pq = s_p·y_q, q newer than p
    loop 2 (oldest first):  β_p = ρ_p (γ (y_p·g − Σ_q α_q y_p·y_q) + Σ_{q older} (α_q − β_q) y_p·s_q)
                            → (I + diag(ρ) U) β = ρ ⊙ (γ c + U α),    U_pq = y_p·s_q, q older than p
    direction:              d = −(γ g − γ Yᵀα + Sᵀ(α − β))

with ρ_p = 1/(y_p·s_p) and γ = s·y / y·y of the newest accepted pair (torch's ``H_diag``). This is the
same direction as torch's loops in exact arithmetic (tested against them in float64), computed by
2 passes over the history instead of 4 and about 20 operations instead of 8 per pair.

Departures from ``torch.optim.LBFGS``, on purpose:
- A pair whose curvature y·s is not positive (torch: ≤ 1e-10, then skipped) is stored with ρ = 0,
  so it changes nothing in the direction; but it takes a slot in the ring, where torch would have
  kept the oldest pair one iteration longer. Deciding that on the host would cost a sync.
- No test of ``gtd > 0``: with only pairs of positive curvature in use, the implied inverse Hessian
  is positive definite, so the direction descends wherever the gradient is not zero.
- The line search (torch's own strong-Wolfe, run only while the history is short, as before) needs
  the host; so do the first iterations. Iterations without a line search issue no sync at all; the
  caller reads the loss once per window of iterations.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["LBFGS", "two_loop_direction"]

# torch.optim.LBFGS skips a pair with y·s at or under this; here such a pair gets ρ = 0.
CURVATURE_EPS = 1e-10
# On the CPU the history's inner products run over column blocks this wide: one (2m, n)·(n, 3)
# gemm of a very wide matrix reached a third of the memory bandwidth here (2-core EPYC, 1280x720,
# history 25: 96 ms in one call, 29 ms in blocks of 65536 columns, 34 ms at 16384, 32 ms at
# 262144; bench/lbfgs.py's bookkeeping case). On CUDA one call is better (fewer launches).
CPU_COLUMN_BLOCK = 65536


class LBFGS:
    """Limited-memory BFGS over one flat parameter, one iteration per :meth:`step` (no host sync
    unless ``line_search``).

    params: the variable, a contiguous leaf tensor; updated in place.
    history: how many curvature pairs (s, y) are remembered (torch's ``history_size``).
    closure: evaluates the objective at the current ``params``, runs backward, returns the loss
    (a 0-dim tensor); ``params.grad`` must hold the gradient afterwards.
    """

    def __init__(self, params: torch.Tensor, history: int, closure: Callable[[], torch.Tensor]):
        if not params.is_contiguous():
            raise ValueError("L-BFGS needs a contiguous parameter tensor (it is viewed as one flat vector)")
        if history < 1:
            raise ValueError(f"L-BFGS history must be at least 1, got {history}")
        self.params = params
        self.history = history
        self.closure = closure
        n = params.numel()
        device = params.device
        self.pairs = torch.zeros(2 * history, n, dtype=params.dtype, device=device)
        # Inner products between remembered pairs, in slot order, in float64 (m×m: cheap, and the
        # triangular solves are the only place rounding could build up).
        small = torch.float64
        self.s_dot_y = torch.zeros(history, history, dtype=small, device=device)  # [i, j] = s_i · y_j
        self.y_dot_y = torch.zeros(history, history, dtype=small, device=device)  # [i, j] = y_i · y_j
        self.rho = torch.zeros(history, dtype=small, device=device)
        self.gamma = torch.ones((), dtype=small, device=device)
        self._eye = torch.eye(history, dtype=small, device=device)
        # Slot order newest first, for each position of the ring's head: made once on the device so
        # that indexing with it needs no host-to-device copy in the loop.
        ring = torch.arange(history)
        self._orders = torch.stack([(head - 1 - ring) % history for head in range(history)]).to(device)
        self.pairs_stored = 0  # host-side count: the ring's head is pairs_stored % history
        self.iterations = 0
        self.evaluations = 0
        self._loss: torch.Tensor | None = None
        self._grad: torch.Tensor | None = None
        self._last_step: torch.Tensor | None = None  # s = t·d of the last move, flat
        self._last_grad: torch.Tensor | None = None  # the gradient where that move started
        self._evaluated = False  # whether _loss and _grad belong to the current params

    @property
    def loss(self) -> torch.Tensor | None:
        """The loss at the newest evaluated point (a 0-dim tensor on the device; after a unit step,
        the point that step started from), or None before the first step."""
        return self._loss

    def _evaluate(self) -> None:
        self._loss = self.closure().detach()
        if self.params.grad is None:
            raise RuntimeError("the closure left no gradient on the parameter; call backward() in it")
        self._grad = self.params.grad.detach().reshape(-1)
        # The next backward must write a fresh tensor: the history and the line search keep this one.
        self.params.grad = None
        self.evaluations += 1
        self._evaluated = True

    def step(self, line_search: bool = False, max_evaluations: int = 25) -> bool:
        """One iteration: evaluate the point the last move reached, absorb that move's curvature
        pair, compute the direction, move.

        With ``line_search`` the step length comes from torch's strong-Wolfe search, which may use
        ``max_evaluations`` evaluations in all this step (the start's included) and decides on the
        host; otherwise the step is 1 (after the first iteration) and the point it reaches is
        evaluated by the next step, so an iteration costs exactly one evaluation and the last
        point of a run is never evaluated (as in torch.optim.LBFGS). Returns False when a line
        search has no descent direction to search along (a zero gradient: converged, the point
        did not move), True otherwise."""
        evaluations_before = self.evaluations
        if not self._evaluated:
            self._evaluate()
        assert self._grad is not None and self._loss is not None
        grad = self._grad
        direction: torch.Tensor | None = None
        if self._last_step is not None:
            assert self._last_grad is not None
            direction = self._remember(self._last_step, grad - self._last_grad, grad)
            self._last_step = self._last_grad = None
        if direction is None:
            direction = self.direction(grad)
        self.iterations += 1
        # torch's first step: 1/|g|₁ at most, so a huge first gradient cannot throw the image away.
        if self.iterations == 1:
            step_size: torch.Tensor | float = torch.clamp(1.0 / grad.abs().sum(), max=1.0)
        else:
            step_size = 1.0
        if line_search:
            return self._line_search(direction, step_size, max_evaluations - (self.evaluations - evaluations_before))
        move = direction * step_size
        self._last_step, self._last_grad = move, grad
        self.params.detach().view(-1).add_(move)
        self._evaluated = False
        return True

    def _line_search(self, direction: torch.Tensor, step_size, max_evaluations: int) -> bool:
        # torch's own strong-Wolfe search (the one torch.optim.LBFGS uses), so the first window
        # behaves as it did before this module; it lives in a private module of torch's, pinned by
        # the torch version in pyproject.toml and exercised by tests/test_lbfgs.py.
        from torch.optim.lbfgs import _strong_wolfe

        assert self._grad is not None and self._loss is not None
        flat = self.params.detach().view(-1)
        start = flat.clone()

        def evaluate_at(x: torch.Tensor, t: float, d: torch.Tensor) -> tuple[float, torch.Tensor]:
            flat.copy_(x).add_(d, alpha=t)
            self._evaluate()
            assert self._grad is not None and self._loss is not None
            return float(self._loss), self._grad

        start_loss, start_grad = float(self._loss), self._grad
        slope = float(start_grad.dot(direction))
        if not slope < 0.0:  # not a descent direction (a zero gradient, or NaN): nothing to do
            return False
        t = float(step_size)
        loss, grad, t, _ = _strong_wolfe(evaluate_at, start, t, direction, start_loss, start_grad, slope,
                                         max_ls=max_evaluations)
        # Like torch.optim.LBFGS, move by the step length the search returns even when it found no
        # decrease: with bfloat16's noisy loss the search can end without one at the first
        # iteration, and staying put there would stop the optimisation (64x36, measured).
        flat.copy_(start).add_(direction, alpha=t)
        self._loss = torch.tensor(loss, device=flat.device)
        self._grad = grad
        # The search evaluated the new point already (_evaluated holds): absorb its pair now.
        self._remember(direction * t, grad - start_grad)
        return True

    def _remember(self, step: torch.Tensor, grad_change: torch.Tensor,
                  grad: torch.Tensor | None = None) -> torch.Tensor | None:
        """Store the pair (s, y) in the ring's next slot and update the inner-product matrices;
        with ``grad``, also return the new direction for it, from the same pass over the history.

        Everything stays on the device: whether the pair counts (y·s > CURVATURE_EPS) is a ρ of 0 or
        not, not a branch."""
        m = self.history
        slot = self.pairs_stored % m
        self.pairs[slot].copy_(step)
        self.pairs[m + slot].copy_(grad_change)
        self.pairs_stored += 1
        vectors = [step, grad_change] if grad is None else [step, grad_change, grad]
        # One read of the history for every inner product this iteration needs.
        products = self._history_dot(torch.stack(vectors)).double()  # (2m, 2 or 3)
        s_dot_new_y, y_dot_new_s, y_dot_new_y = products[:m, 1], products[m:, 0], products[m:, 1]
        self.s_dot_y[:, slot] = s_dot_new_y
        self.s_dot_y[slot, :] = y_dot_new_s
        self.y_dot_y[:, slot] = y_dot_new_y
        self.y_dot_y[slot, :] = y_dot_new_y
        curvature = y_dot_new_s[slot]
        accepted = curvature > CURVATURE_EPS
        self.rho[slot] = torch.where(accepted, 1.0 / torch.where(accepted, curvature, 1.0), 0.0)
        self.gamma = torch.where(accepted, curvature / y_dot_new_y[slot].clamp(min=torch.finfo(torch.float64).tiny),
                                 self.gamma)
        if grad is None:
            return None
        return self._direction(grad, products[:, 2])

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        """−H·grad for the remembered pairs (the two-loop recursion as two triangular solves; see
        the module docstring). grad: (n,) flat; returns (n,) in grad's dtype."""
        if self.pairs_stored == 0:
            return -grad
        return self._direction(grad, self._history_dot(grad[None])[:, 0].double())

    def _history_dot(self, vectors: torch.Tensor) -> torch.Tensor:
        """pairs @ vectorsᵀ: (2m, n)·(n, k) -> (2m, k), for vectors (k, n). ((k, n).T has the
        strides gemm wants; (n, k) made by stacking along dim 1 ran 3x slower.)"""
        if self.pairs.device.type != "cpu" or self.pairs.shape[1] <= CPU_COLUMN_BLOCK:
            return self.pairs @ vectors.T
        out = torch.zeros(self.pairs.shape[0], vectors.shape[0], dtype=self.pairs.dtype)
        for start in range(0, self.pairs.shape[1], CPU_COLUMN_BLOCK):
            end = start + CPU_COLUMN_BLOCK
            out.addmm_(self.pairs[:, start:end], vectors[:, start:end].T)
        return out

    def _direction(self, grad: torch.Tensor, history_dot_grad: torch.Tensor) -> torch.Tensor:
        """The direction given ``pairs @ grad`` (2m,) in float64."""
        m = self.history
        order = self._orders[self.pairs_stored % m]  # slot indices, newest first
        s_dot_g, y_dot_g = history_dot_grad.view(2, m)[:, order]
        rho = self.rho[order]
        s_dot_y = self.s_dot_y[order][:, order]  # [p, q] = s_p · y_q, p and q newest first
        y_dot_y = self.y_dot_y[order][:, order]
        eye = self._eye
        # Loop 1: q newer than p means q < p (newest first): the strictly lower triangle.
        lower = torch.tril(s_dot_y, diagonal=-1)
        alpha = torch.linalg.solve_triangular(eye + rho[:, None] * lower, (rho * s_dot_g)[:, None],
                                              upper=False, unitriangular=True)[:, 0]
        # Loop 2: q older than p means q > p: U[p, q] = y_p · s_q = s_dot_y[q, p], strictly upper.
        upper = torch.triu(s_dot_y.T, diagonal=1)
        corrected = self.gamma * (y_dot_g - y_dot_y @ alpha)
        beta = torch.linalg.solve_triangular(eye + rho[:, None] * upper, (rho * (corrected + upper @ alpha))[:, None],
                                             upper=True, unitriangular=True)[:, 0]
        # Back to slot order, then one more pass over the history: d = −(γ g + Sᵀ(α − β) − γ Yᵀα).
        # (addmv over pairsᵀ: 24 ms at 1280x720 against 35 ms for coefficients @ pairs, this CPU.)
        coefficients = torch.empty(2 * m, dtype=torch.float64, device=grad.device)
        coefficients[order] = beta - alpha
        coefficients[m + order] = self.gamma * alpha
        return torch.addmv(grad * -self.gamma.to(grad.dtype), self.pairs.T, coefficients.to(grad.dtype))


def two_loop_direction(grad: torch.Tensor, steps: list[torch.Tensor], grad_changes: list[torch.Tensor],
                       gamma: float) -> torch.Tensor:
    """The textbook two-loop recursion (Nocedal & Wright, Algorithm 7.4) as torch.optim.LBFGS runs
    it, pair by pair: the reference :meth:`LBFGS.direction` is tested against.

    grad: (n,); steps, grad_changes: the pairs (s, y), oldest first; gamma: the initial scaling
    s·y / y·y. Returns −H·grad, (n,)."""
    alphas = []
    q = grad.clone()
    for s, y in zip(reversed(steps), reversed(grad_changes)):
        alpha = s.dot(q) / y.dot(s)
        q -= alpha * y
        alphas.append(alpha)
    r = gamma * q
    for (s, y), alpha in zip(zip(steps, grad_changes), reversed(alphas)):
        beta = y.dot(r) / y.dot(s)
        r += (alpha - beta) * s
    return -r
