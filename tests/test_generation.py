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
