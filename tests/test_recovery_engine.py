"""The recovery engine against a slow reference: each image recovered alone with torch.optim.Adam."""

import pickle

import pytest
import torch
from torch import nn

import regulators
from bench.recovery.engine import cell_draws, initial_latents, recover_cells
from bench.recovery.grid import Cell

D_Z = 6


class TinyG(nn.Module):
    def __init__(self, gen: torch.Generator, act=nn.Tanh, norm: bool = False):
        super().__init__()
        self.latent_dim = D_Z
        layers = [nn.Linear(D_Z, 16)] + ([nn.BatchNorm1d(16)] if norm else []) + [act(), nn.Linear(16, 784), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)


class TinyD(nn.Module):
    def __init__(self, gen: torch.Generator):
        super().__init__()
        self.lin = nn.Linear(784, 1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
        # spectral norm as in the LSGAN's D: the engine caches the parametrised weight
        self.lin = nn.utils.parametrizations.spectral_norm(self.lin)

    def forward(self, x):
        return self.lin(x.flatten(1)).squeeze(1)


@pytest.fixture
def models():
    gen = torch.Generator().manual_seed(0)
    G, D = TinyG(gen), TinyD(gen)
    # Pixels of +-1.5 lie outside tanh's range, so no residual x - G(z) ever crosses 0: the kink
    # of |.| would turn a rounding difference (batched vs single matmuls) into a different
    # gradient sign, which Adam's normalisation then amplifies to O(lr).
    targets = 1.5 * torch.randn(3, 1, 28, 28, generator=gen).sign()
    return G, D, targets


def reference(G, D, reg, target, z0, cell, *, steps, seed, rows, row, m, prior, restarts, at="after", every=1):
    """One (image, restart) alone: torch.optim.Adam on a [d_z] leaf, the cell's draws fed by hand.

    The draws follow the engine's documented contract (cell_draws): per step t a [rows, m] prior
    sample (step `steps` for the final loss), or the trial uniforms and fresh values of resampling
    on [rows, d_z]; this row takes its own row of each. `at` and `every`: the reading of the
    resampling rule, written out for one image (after the step, before it, or after it but kept
    only when it lowers the objective; at every `every`-th step).
    """
    G.eval()
    D.eval()  # as the author's Keras models at inference: no power iteration, running BN stats
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=cell.lr)
    ids = range(rows // restarts)

    def draws(purpose, t, width, dist):
        return cell_draws(seed, cell.run_id, purpose, t, ids, restarts, width, dist)[row]

    loss_reg = reg.kind == "loss" and reg.name != "none"
    uses_u = loss_reg and "prior_sample" in reg.context

    def objective(zz, t):
        diff = (target - G(zz[None])[0]).abs().mean()
        if not loss_reg:
            return diff
        u = draws("prior", t, m, prior)[None] if uses_u else None
        return diff + cell.hp * reg.penalty(zz[None], prior_sample=u, generator=G, discriminator=D)[0]

    def resampled(t):
        return reg.resample_with(z, torch.tensor(cell.hp), draws("fire", t, D_Z, None), draws("fresh", t, D_Z, prior))

    for t in range(steps):
        fires = reg.kind == "resample" and (t + 1) % every == 0
        if fires and at == "before":
            with torch.no_grad():
                z.copy_(resampled(t))
        opt.zero_grad()
        objective(z, t).backward()
        opt.step()
        if fires and at != "before":
            with torch.no_grad():
                new = resampled(t)
                if at == "after" or objective(new, t) < objective(z, t):
                    z.copy_(new)
    with torch.no_grad():
        return z.detach(), objective(z, steps)


CELLS = {"loss": [(0.05, 0.5), (0.2, 0.1)], "resample": [(0.05, 0.5), (0.2, 2.0)]}


@pytest.mark.parametrize("name", regulators.names())
def test_engine_equals_per_image_adam(models, name):
    G, D, targets = models
    reg = regulators.get(name)
    cells = [Cell(name, lr, hp) for lr, hp in CELLS[reg.kind]]
    steps, restarts, seed, m = 8, 2, 3, 5
    prior = regulators.get_prior("normal")
    out = recover_cells(
        G, D, targets, cells, steps=steps, restarts=restarts, seed=seed, prior_samples=m, max_batch=4
    )  # 4 rows: blocks split the 6 rows of a cell
    z0 = initial_latents(seed, range(3), restarts, D_Z, prior)
    rows = 3 * restarts
    for cell, rec in zip(cells, out):
        assert rec.cell == cell
        for i in range(3):
            cands = [
                reference(
                    G,
                    D,
                    reg,
                    targets[i],
                    z0[i * restarts + r],
                    cell,
                    steps=steps,
                    seed=seed,
                    rows=rows,
                    row=i * restarts + r,
                    m=m,
                    prior=prior,
                    restarts=restarts,
                )
                for r in range(restarts)
            ]
            best = min(range(restarts), key=lambda r: cands[r][1].item())
            z_ref, loss_ref = cands[best]
            assert rec.restart[i].item() == best
            torch.testing.assert_close(rec.z_final[i], z_ref, atol=1e-5, rtol=0)
            torch.testing.assert_close(rec.final_loss[i], loss_ref, atol=1e-5, rtol=1e-5)
            with torch.no_grad():
                torch.testing.assert_close(rec.images_rec[i], G(z_ref[None])[0], atol=1e-5, rtol=0)
        assert rec.n_nonfinite == 0
        assert len(rec.loss_history) == steps
        # the run really moved z: a test of a no-op engine would pass the checks above only if
        # the reference were a no-op too
        assert not torch.allclose(rec.z_final, z0.view(3, restarts, D_Z)[torch.arange(3), rec.restart])


@pytest.mark.parametrize("name", regulators.names(kind="resample"))
@pytest.mark.parametrize("at, every", [("before", 1), ("accept", 1), ("after", 3)])
def test_each_reading_of_the_resampling_rule_equals_its_per_image_loop(models, name, at, every):
    G, D, targets = models
    cells = [Cell(name, lr, hp) for lr, hp in CELLS["resample"]]
    steps, seed = 7, 3
    prior = regulators.get_prior("normal")
    out = recover_cells(G, D, targets, cells, steps=steps, seed=seed, max_batch=2, resample_at=at, resample_every=every)
    z0 = initial_latents(seed, range(3), 1, D_Z, prior)
    for cell, rec in zip(cells, out):
        for i in range(3):
            z_ref, loss_ref = reference(
                G,
                D,
                regulators.get(name),
                targets[i],
                z0[i],
                cell,
                steps=steps,
                seed=seed,
                rows=3,
                row=i,
                m=D_Z,
                prior=prior,
                restarts=1,
                at=at,
                every=every,
            )
            torch.testing.assert_close(rec.z_final[i], z_ref, atol=1e-5, rtol=0)
            torch.testing.assert_close(rec.final_loss[i], loss_ref, atol=1e-5, rtol=1e-5)


def test_a_cutoff_that_always_fires_forgets_the_target_only_when_it_acts_last(models):
    """c = 0 replaces every element at every step. Resampled after the step (the SPEC's reading),
    the final z is the last fresh draw, the same whatever the target; resampled before the step,
    the last Adam step follows it, so the final z depends on the target (through Adam's moments)."""
    G, D, targets = models
    cell = [Cell("truncated_normal_cutoff", 1.0, 0.0)]
    other = -targets
    after = [recover_cells(G, D, t, cell, steps=5, seed=1)[0].z_final for t in (targets, other)]
    torch.testing.assert_close(after[0], after[1], atol=0, rtol=0)
    before = [recover_cells(G, D, t, cell, steps=5, seed=1, resample_at="before")[0].z_final for t in (targets, other)]
    assert not torch.allclose(before[0], before[1])
    # ... and it differs from the fresh draw by about one Adam step of size lr (= 1) per element.
    assert (before[0] - after[0]).abs().mean() > 0.5


def test_cell_alone_equals_cell_in_chunk(models):
    G, D, targets = models
    for name, hps in [("wasserstein", [0.5, 1.0, 2.0]), ("truncated_normal_cutoff", [1.0, 2.0, 3.0])]:
        cells = [Cell(name, 0.05, hp) for hp in hps]
        chunk = recover_cells(G, D, targets, cells, steps=10, restarts=2, seed=1)
        alone = recover_cells(G, D, targets, cells[1:2], steps=10, restarts=2, seed=1)[0]
        split = recover_cells(G, D, targets, cells[::-1], steps=10, restarts=2, seed=1, max_batch=1)[1]
        for other in (alone, split):
            torch.testing.assert_close(other.z_final, chunk[1].z_final, atol=1e-6, rtol=0)
            torch.testing.assert_close(other.final_loss, chunk[1].final_loss, atol=1e-6, rtol=0)
        # cells differ only through their own hyperparameter and draws
        assert not torch.allclose(chunk[0].z_final, chunk[2].z_final)


def test_shared_baselines_are_one_run(models):
    G, D, targets = models
    cells = [
        Cell("wasserstein", 0.1, 0.0, shared=True),
        Cell("none", 0.1, 0.0),
        Cell("trick_discriminator", 0.1, 0.0, shared=True),
    ]
    out = recover_cells(G, D, targets, cells, steps=8, seed=0)
    assert [r.cell for r in out] == cells
    for r in out[1:]:
        assert torch.equal(r.z_final, out[0].z_final)


def test_initial_latents_depend_only_on_seed_image_restart():
    prior = regulators.get_prior("normal")
    a = initial_latents(7, [4, 9], 3, D_Z, prior)
    b = initial_latents(7, [9], 1, D_Z, prior)
    assert torch.equal(a[3], b[0])  # image 9, restart 0, whatever else was asked for
    assert not torch.equal(a[3], a[4])  # restarts differ
    assert not torch.equal(initial_latents(8, [9], 1, D_Z, prior), b)  # the seed matters
    # a cell sees its image's z0 whatever subset of images it recovers
    gen = torch.Generator().manual_seed(0)
    G = TinyG(gen)
    targets = torch.zeros(2, 1, 28, 28)
    full = recover_cells(G, None, targets, [Cell("none", 0.1, 0)], steps=0, seed=7, image_ids=[4, 9])[0]
    assert torch.equal(full.z_final[1], b[0])


def test_diverging_cell_finishes_and_is_counted():
    gen = torch.Generator().manual_seed(0)

    class ExpG(TinyG):  # exp overflows to inf once z is large: lr 100 gets there in a few steps
        def forward(self, z):
            return self.net(z.exp()).view(-1, 1, 28, 28)

    G = ExpG(gen)
    targets = torch.rand(4, 1, 28, 28, generator=gen) * 2 - 1
    out = recover_cells(G, None, targets, [Cell("none", 100.0, 0), Cell("none", 0.001, 0)], steps=30)
    assert out[0].n_nonfinite == 4
    assert not torch.isfinite(out[0].z_final).all()
    assert out[1].n_nonfinite == 0 and torch.isfinite(out[1].z_final).all()


def test_modules_restored_eval_used_and_progress(models):
    _, D, targets = models
    G = TinyG(torch.Generator().manual_seed(1), norm=True)
    G.train()
    calls = []
    out = recover_cells(
        G,
        D,
        targets,
        [Cell("log_normal_density", 0.1, 0.1)],
        steps=7,
        progress_every=3,
        progress=lambda task, done, total, **info: calls.append((task, done, total)),
    )
    assert G.training and all(p.requires_grad for p in G.parameters())
    assert [c[1] for c in calls] == [3, 6, 7] and all(c[2] == 7 for c in calls)
    G.eval()
    with torch.no_grad():  # images are G's eval-mode output (batch norm with running stats)
        torch.testing.assert_close(out[0].images_rec, G(out[0].z_final), atol=1e-6, rtol=0)
    pickle.loads(pickle.dumps(out))  # results travel between processes


def test_bad_reading_inputs(models):
    """The engine takes resolved values and names the argument (plain ValueError); only the command
    line speaks of options."""
    G, D, targets = models
    with pytest.raises(ValueError, match="resample_at must be one of after, before, accept"):
        recover_cells(G, D, targets, [Cell("logistic_cutoff", 0.1, 1.0)], steps=2, resample_at="during")
    with pytest.raises(ValueError, match="resample_every"):
        recover_cells(G, D, targets, [Cell("logistic_cutoff", 0.1, 1.0)], steps=2, resample_every=0)


def test_bad_inputs(models):
    G, D, targets = models
    cell = [Cell("none", 0.1, 0)]
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        recover_cells(G, D, targets, cell, steps=-1)
    with pytest.raises(ValueError, match="restarts must be an integer >= 1"):
        recover_cells(G, D, targets, cell, restarts=0)
    with pytest.raises(ValueError, match="unknown regulator"):
        recover_cells(G, D, targets, [Cell("nope", 0.1, 1)], steps=1)


@pytest.mark.parametrize(
    "cells, rows, max_batch, parts",
    [
        (1, 1000, 4096, 2),
        (4, 1000, 4096, 2),
        (5, 1000, 4096, 2),
        (16, 1000, 4096, 2),
        (3, 7, 4, 2),
        (20, 1000, 4096, 3),
        (2, 5, 1, 4),
        (1, 3, 4096, 8),
        (7, 13, 20, 1),
    ],
)
def test_parts_cover_every_row_once_in_balanced_shares(cells, rows, max_batch, parts):
    from bench.recovery.work import parts as _parts

    shares = _parts(cells, rows, max_batch, parts)
    seen = torch.zeros(cells, rows, dtype=torch.int64)
    sizes = []
    for share in shares:
        size = 0
        for c0, c1, r0, r1 in share:
            assert 0 <= c0 < c1 <= cells and 0 <= r0 < r1 <= rows
            assert (c1 - c0) * (r1 - r0) <= max(max_batch, r1 - r0) and r1 - r0 <= max_batch
            assert c1 - c0 == 1 or (r0, r1) == (0, rows)  # several cells: whole cells only
            seen[c0:c1, r0:r1] += 1
            size += (c1 - c0) * (r1 - r0)
        sizes.append(size)
    assert (seen == 1).all()
    assert len(shares) == min(parts, cells * rows) and max(sizes) - min(sizes) <= -(-cells * rows // parts) - (
        cells * rows // parts
    )


def test_draws_per_step_do_not_grow_with_the_cells(models, monkeypatch):
    """Every block's draws come in one call per purpose: recovering 6 cells makes as many calls to
    the stream per step as recovering 1 (no Python loop over cells inside a step)."""
    from bench.recovery import streams

    G, D, targets = models
    calls = []
    real = streams.block_keys

    def counting(*args):
        calls.append(args[0].shape[0])
        return real(*args)

    counts = {}
    monkeypatch.setattr(streams, "block_keys", counting)  # counts calls; the real function draws
    for k in (1, 6):
        for name in ("wasserstein", "truncated_normal_cutoff"):
            calls.clear()
            recover_cells(G, D, targets, [Cell(name, 0.05, 0.5 + i) for i in range(k)], steps=5, max_batch=10_000)
            counts[k, name] = (len(calls), max(calls))
    for name in ("wasserstein", "truncated_normal_cutoff"):
        assert counts[1, name][0] == counts[6, name][0]
        assert counts[6, name][1] >= 3  # a call covers several cells at once
