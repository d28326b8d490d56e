import pytest

from assistant.errors import AssistantError
from assistant.generation import ChatModel, GenerationSettings


@pytest.fixture(scope="module")
def tuned_tiny(tiny_model_dir, tokenizer):
    from peft import LoraConfig, get_peft_model
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False),
    )
    return ChatModel(model, tokenizer, "Be brief.", has_adapter=True)


GREEDY = GenerationSettings(max_new_tokens=12, temperature=0.0, repetition_penalty=1.0)


def test_stream_yields_the_same_text_as_reply(tuned_tiny):
    history = [{"role": "user", "content": "Hello"}]
    streamed = "".join(tuned_tiny.stream(history, GREEDY)).strip()
    assert streamed and streamed == tuned_tiny.reply(history, GREEDY)


def test_adapter_switch_changes_replies_on_one_model(tuned_tiny):
    history = [{"role": "user", "content": "What are your hours?"}]
    tuned = tuned_tiny.reply(history, GREEDY, tuned=True)
    base = tuned_tiny.reply(history, GREEDY, tuned=False)
    assert tuned != base
    assert tuned_tiny.reply(history, GREEDY, tuned=True) == tuned  # adapter back on afterwards


def test_batch_matches_single_generation(tuned_tiny):
    prompts = ["Hi", "Do you sell decaf beans in bulk for offices?"]
    batch = tuned_tiny.generate_batch(prompts, GREEDY, tuned=False)
    single = [tuned_tiny.reply([{"role": "user", "content": p}], GREEDY, tuned=False) for p in prompts]
    assert batch == single


def test_seeded_sampling_is_reproducible(tuned_tiny):
    settings = GenerationSettings(max_new_tokens=10, temperature=1.0, seed=3)
    history = [{"role": "user", "content": "Tell me something"}]
    assert tuned_tiny.reply(history, settings) == tuned_tiny.reply(history, settings)


def test_too_long_message_is_refused_and_old_turns_are_dropped(tuned_tiny):
    with pytest.raises(AssistantError, match="message too long"):
        tuned_tiny.prompt_ids([{"role": "user", "content": "word " * 600}], 50)
    history = []
    for i in range(30):
        history += [{"role": "user", "content": f"question {i} " * 5}, {"role": "assistant", "content": f"answer {i} " * 5}]
    history.append({"role": "user", "content": "last question"})
    ids = tuned_tiny.prompt_ids(history, 50)
    assert len(ids) <= tuned_tiny.context_limit() - 50
    assert "last question" in tuned_tiny.tokenizer.decode(ids)


def test_stop_tokens_include_end_of_turn_and_turn_start(tuned_tiny, tokenizer):
    assert tokenizer.eos_token_id in tuned_tiny.stop_ids
    assert tokenizer.convert_tokens_to_ids("<|im_start|>") in tuned_tiny.stop_ids


def last_position_logits(chat, ids):
    """The prefill step of generation: logits at the last position only, and how many copies
    of the (transposed) output weight computing them made."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    vocab = chat.model.get_output_embeddings().weight.shape[0]
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        logits = chat.model(input_ids=ids, logits_to_keep=1).logits
    copies = sum(1 for e in prof.events() if e.name == "aten::contiguous"
                 and any(shape and vocab in shape for shape in e.input_shapes))
    return logits, copies


def test_generation_never_copies_the_frozen_output_weight(tiny_model_dir, tokenizer):
    """Generation projects the last position's hidden states, a strided slice; with a frozen
    bf16 output layer (PEFT freezes it) torch's matmul then copied the whole transposed
    weight (54 MB for SmolLM2, each prompt). The relaid-out input avoids it, same logits.
    The copy is on torch's oneDNN bf16 path, which CPUs without AVX-512 don't take."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16),
                           LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False))
    chat = ChatModel(model, tokenizer, "Be brief.", has_adapter=True)
    head = chat.model.get_output_embeddings()
    assert not head.weight.requires_grad
    ids = torch.tensor([chat.prompt_ids([{"role": "user", "content": "Hello"}], 8)])
    relaid, copies = last_position_logits(chat, ids)
    assert copies == 0
    hooks = dict(head._forward_pre_hooks)
    head._forward_pre_hooks.clear()  # torch's behaviour without the relayout, for contrast
    try:
        strided, copies = last_position_logits(chat, ids)
        assert copies > 0 or not torch.ops.mkldnn._is_mkldnn_bf16_supported()
        assert torch.equal(relaid, strided)
    finally:
        head._forward_pre_hooks.update(hooks)
