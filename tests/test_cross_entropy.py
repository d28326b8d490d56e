"""The in-place cross-entropy gives F.cross_entropy's loss and gradient."""

import pytest
import torch
import torch.nn.functional as F

from assistant import cross_entropy
from assistant.cross_entropy import cross_entropy_sum


def losses_and_gradients(loss_fn, hidden, weight, targets):
    hidden = hidden.clone().requires_grad_()
    loss = loss_fn(hidden @ weight.t(), targets)
    loss.backward()
    return loss.detach(), hidden.grad


@pytest.mark.parametrize("block_bytes", [1, 3 * 50 * 4, 1 << 21])  # one row per block, a ragged last block, one block
def test_loss_and_gradient_match_torch(monkeypatch, block_bytes):
    monkeypatch.setattr(cross_entropy, "BLOCK_BYTES", block_bytes)
    generator = torch.Generator().manual_seed(0)
    hidden, weight = torch.randn(7, 16, generator=generator), torch.randn(50, 16, generator=generator)
    targets = torch.randint(0, 50, (7,), generator=generator)
    want = losses_and_gradients(lambda logits, t: F.cross_entropy(logits, t, reduction="sum"), hidden, weight, targets)
    got = losses_and_gradients(cross_entropy_sum, hidden, weight, targets)
    assert torch.allclose(got[0], want[0], rtol=1e-6)
    assert torch.allclose(got[1], want[1], atol=1e-6)


def test_backward_scales_by_the_incoming_gradient_and_writes_into_the_logits():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]], requires_grad=True)
    targets = torch.tensor([0, 2])
    reference = logits.detach().clone().requires_grad_()
    (F.cross_entropy(reference, targets, reduction="sum") * 0.25).backward()
    scaled = logits * 1.0  # a non-leaf, as the output layer's result is
    (cross_entropy_sum(scaled, targets) * 0.25).backward()
    assert torch.allclose(logits.grad, reference.grad, atol=1e-7)
    assert torch.allclose(scaled.detach(), reference.grad, atol=1e-7)  # the logits became their gradient


def test_no_rows_and_no_autograd():
    empty = torch.zeros(0, 10, requires_grad=True)
    loss = cross_entropy_sum(empty * 1.0, torch.zeros(0, dtype=torch.long))
    loss.backward()
    assert float(loss) == 0.0 and empty.grad.shape == (0, 10)
    logits = torch.randn(3, 10)
    with torch.no_grad():  # evaluation: torch's own, and the logits stay as they are
        kept = logits.clone()
        loss = cross_entropy_sum(logits, torch.tensor([1, 2, 3]))
    assert torch.equal(logits, kept)
    assert torch.allclose(loss, F.cross_entropy(logits, torch.tensor([1, 2, 3]), reduction="sum"))


def test_blocks_are_cache_sized_on_cpu_and_whole_elsewhere():
    from assistant.cross_entropy import BLOCK_BYTES, block_rows

    cpu = torch.empty(10_000, 49_152)
    assert block_rows(cpu) == BLOCK_BYTES // (49_152 * 4)
    assert block_rows(torch.empty(10_000, 49_152, device="meta")) == 10_000  # a GPU's: one block
