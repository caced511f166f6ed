"""vidstyle.lbfgs: the matrix form of the two-loop recursion against the textbook loops, the
policy against torch.optim.LBFGS, and the stored-pair rules."""

from __future__ import annotations

import torch

from vidstyle.lbfgs import LBFGS, two_loop_direction


def _quadratic(n: int, seed: int = 0):
    """f(x) = ½ xᵀAx − bᵀx with A symmetric positive definite (eigenvalues 1..50), float64."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    a = q @ torch.diag(torch.linspace(1.0, 50.0, n, dtype=torch.float64)) @ q.T
    b = torch.randn(n, generator=g, dtype=torch.float64)
    return a, b


def _closure(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
    def closure() -> torch.Tensor:
        x.grad = None
        loss = 0.5 * x @ a @ x - b @ x
        loss.backward()
        return loss
    return closure


def test_direction_equals_the_two_loop_recursion_with_a_wrapped_ring():
    # History 3 after 5 pairs: the ring has wrapped, so slot order and age order differ.
    n, m = 12, 3
    g = torch.Generator().manual_seed(1)
    x = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    lbfgs = LBFGS(x, m, lambda: torch.zeros(()))
    steps, changes = [], []
    a, _ = _quadratic(n)
    for _ in range(5):
        s = torch.randn(n, generator=g, dtype=torch.float64)
        y = a @ s  # positive curvature: y·s = sᵀAs > 0
        lbfgs._remember(s, y)
        steps.append(s)
        changes.append(y)
    grad = torch.randn(n, generator=g, dtype=torch.float64)
    kept_s, kept_y = steps[-m:], changes[-m:]
    gamma = float(kept_s[-1] @ kept_y[-1] / (kept_y[-1] @ kept_y[-1]))
    expected = two_loop_direction(grad, kept_s, kept_y, gamma)
    assert torch.allclose(lbfgs.direction(grad), expected, rtol=1e-10, atol=1e-12)


def test_two_loop_reference_is_the_inverse_on_a_quadratic():
    # Hand-derived property: after n linearly independent pairs (s, As) of a quadratic, BFGS's
    # inverse-Hessian update reproduces A⁻¹ exactly (Nocedal & Wright, Thm. 6.4 for conjugate steps;
    # with A-conjugate steps it holds for the limited memory too when m ≥ n).
    n = 4
    a, _ = _quadratic(n)
    evals, vecs = torch.linalg.eigh(a)
    steps = [vecs[:, i] for i in range(n)]  # eigenvectors are A-conjugate
    changes = [a @ s for s in steps]
    gamma = float(steps[-1] @ changes[-1] / (changes[-1] @ changes[-1]))
    grad = torch.arange(1.0, n + 1, dtype=torch.float64)
    assert torch.allclose(two_loop_direction(grad, steps, changes, gamma), -torch.linalg.solve(a, grad), atol=1e-10)


def test_a_pair_of_negative_curvature_changes_nothing():
    n, m = 8, 4
    g = torch.Generator().manual_seed(2)
    x = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    with_bad, without = LBFGS(x, m, lambda: torch.zeros(())), LBFGS(x, m, lambda: torch.zeros(()))
    a, _ = _quadratic(n)
    s1, s2 = (torch.randn(n, generator=g, dtype=torch.float64) for _ in range(2))
    for lbfgs in (with_bad, without):
        lbfgs._remember(s1, a @ s1)
    with_bad._remember(s2, -(a @ s2))  # y·s < 0: torch would skip it; here ρ = 0
    without._remember(torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64))  # fill the slot
    assert float(with_bad.rho[1]) == 0.0
    grad = torch.randn(n, generator=g, dtype=torch.float64)
    # Same γ (the bad pair does not set it) and same direction.
    assert float(with_bad.gamma) == float(without.gamma)
    assert abs(float(with_bad.gamma) - float(s1 @ (a @ s1) / ((a @ s1) @ (a @ s1)))) < 1e-15
    assert torch.allclose(with_bad.direction(grad), without.direction(grad), rtol=1e-12)


def test_same_iterates_as_torch_lbfgs_without_line_search():
    # Both with unit steps after torch's own first step (1/|g|₁): in float64 the iterates agree to
    # rounding, which checks the pair bookkeeping, γ and the step rule together.
    n, m, iterations = 10, 4, 12
    a, b = _quadratic(n, seed=3)
    ours = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    theirs = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    lbfgs = LBFGS(ours, m, _closure(ours, a, b))
    reference = torch.optim.LBFGS([theirs], lr=1.0, history_size=m, max_iter=iterations, max_eval=10 * iterations,
                                  tolerance_grad=0.0, tolerance_change=0.0, line_search_fn=None)
    reference.step(_closure(theirs, a, b))
    for _ in range(iterations):
        lbfgs.step()
    assert torch.allclose(ours.detach(), theirs.detach(), rtol=1e-9, atol=1e-11)
    assert lbfgs.evaluations == iterations  # the last point is left unevaluated, as torch does


def test_line_search_then_unit_steps_as_torch_lbfgs():
    # The optimiser's policy: torch's strong-Wolfe search for the first iterations, unit steps
    # after. Same iterates as torch.optim.LBFGS run that way, while every pair has y·s > 1e-10
    # (later, near the minimum, a pair under it is skipped by torch and kept with ρ = 0 here).
    n, m, searched, iterations = 10, 5, 3, 10
    a, b = _quadratic(n, seed=4)
    ours = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    theirs = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    lbfgs = LBFGS(ours, m, _closure(ours, a, b))
    for i in range(iterations):
        assert lbfgs.step(line_search=i < searched, max_evaluations=100)
    reference = torch.optim.LBFGS([theirs], lr=1.0, history_size=m, max_iter=searched, max_eval=300,
                                  tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")
    reference.step(_closure(theirs, a, b))
    reference.param_groups[0].update(max_iter=iterations - searched, line_search_fn=None)
    reference.step(_closure(theirs, a, b))
    assert torch.allclose(ours.detach(), theirs.detach(), rtol=0, atol=1e-13)
    # And it is minimising: 10 iterations took the error from 0.18 (after one) to under 0.003.
    assert float((ours.detach() - torch.linalg.solve(a, b)).abs().max()) < 3e-3


def test_a_zero_gradient_stops_without_moving():
    centre = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    x = centre.clone().requires_grad_(True)

    def closure() -> torch.Tensor:
        loss = ((x - centre) ** 2).sum()  # gradient exactly 0 at x = centre
        loss.backward()
        return loss

    lbfgs = LBFGS(x, 3, closure)
    assert lbfgs.step(line_search=True) is False
    assert torch.equal(x.detach(), centre) and lbfgs.evaluations == 1


def test_a_failed_line_search_does_not_stop_the_optimisation():
    # As torch.optim.LBFGS: a search that finds no lower point (noise, as bfloat16's, made every
    # evaluation after the first look higher) takes the step length it returns, here none, and
    # reports a move, so the next window's unit steps go on: from an empty history, -g.
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    calls = [0]

    def closure() -> torch.Tensor:
        calls[0] += 1
        loss = (x * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum() + (0.0 if calls[0] == 1 else 10.0)
        loss.backward()
        return loss

    lbfgs = LBFGS(x, 3, closure)
    assert lbfgs.step(line_search=True, max_evaluations=5) is True
    assert float(lbfgs.rho[0]) == 0.0  # the zero step's pair counts for nothing
    lbfgs.step()
    assert torch.allclose(x.detach(), torch.tensor([-1.0, -2.0], dtype=torch.float64))


def test_refuses_what_it_cannot_view_flat():
    x = torch.zeros(4, 4).T.requires_grad_(True)
    try:
        LBFGS(x, 3, lambda: torch.zeros(()))
    except ValueError as error:
        assert "contiguous" in str(error)
    else:
        raise AssertionError("a non-contiguous parameter was accepted")
