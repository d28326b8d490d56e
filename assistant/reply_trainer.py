"""The Trainer `assistant train` uses: the transformers Trainer, with the loss computed
only where it counts.

In chat data most tokens are context (system prompt, the customer's message): in the
demo data 31% of tokens are reply tokens with a label. The stock causal-LM loss still
projects every position onto the 49k-word vocabulary, takes its log-softmax and
backpropagates through it, which is a fifth of the model's matmul work and most of its
memory traffic. Here a forward pre-hook on the output layer hands it only the hidden
states whose next token is trained, so the logits (and their gradient) exist only for
those. The loss is the same sum of cross-entropies over the same tokens, normalised the
way the Trainer normalises its own (`num_items_in_batch`, across gradient accumulation
and devices); a test checks it equals the model's own loss.

The hook works for any causal LM whose output layer is `get_output_embeddings()`
(everything after it in `forward` is element-wise: soft-capping, scaling). The same code
handles padded batches and padding-free (flattened) ones, whose labels carry -100 at each
example's first token so no example predicts into the next. The cross-entropy itself keeps
no log-softmax and computes its gradient in place (cross_entropy.py).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from transformers import Trainer

from .chat_format import IGNORE_INDEX
from .cross_entropy import cross_entropy_sum


@contextmanager
def logits_only_at(model, positions: torch.Tensor):
    """Within the block the model's output layer sees only hidden states at `positions`
    (a [batch, seq-1] bool mask over the positions that predict a trained token), so
    `model(...).logits` is [n_trained, vocab] in that order."""
    output_layer = model.get_output_embeddings()

    def select(module, args):
        hidden = args[0]
        return (hidden[:, :-1][positions],)

    handle = output_layer.register_forward_pre_hook(select)
    try:
        yield
    finally:
        handle.remove()


def reply_loss_sum(model, inputs: dict, output_model=None):
    """(summed cross-entropy over the trained tokens, their count, model outputs) for a
    batch with "labels"; `output_model` is the unwrapped model when `model` is wrapped
    (DDP, FSDP), since the hook goes on the real output layer."""
    inputs = dict(inputs)
    targets = inputs.pop("labels")[:, 1:]
    trained = targets != IGNORE_INDEX
    with logits_only_at(output_model or model, trained):
        # No KV cache in training: building one is wasted work, and with one the model
        # no longer reads packed examples' boundaries from their position ids.
        outputs = model(**inputs, use_cache=False)
    # In training, backward overwrites these logits with their gradient (cross_entropy.py):
    # the outputs' logits are for a caller that does not backpropagate (evaluation).
    loss = cross_entropy_sum(outputs.logits.float(), targets[trained])
    return loss, trained.sum(), outputs


class ReplyTrainer(Trainer):
    """Trainer whose loss projects only trained positions onto the vocabulary."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, n_trained, outputs = reply_loss_sum(model, inputs, self.accelerator.unwrap_model(model))
        if num_items_in_batch is None:
            loss = loss / n_trained.clamp(min=1)
        else:
            # What the stock loss does: a sum over the whole accumulated (and, across
            # processes, gathered) batch's trained tokens, which the Trainer then
            # averages over processes, hence the rescale.
            loss = loss / num_items_in_batch
            if self.args.average_tokens_across_devices and self.accelerator.num_processes > 1:
                loss = loss * self.accelerator.num_processes
        return (loss, outputs) if return_outputs else loss
