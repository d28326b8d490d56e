"""`parsed_once`: one GGUFReader per file within a block, a fresh one for a rewritten file,
one tensor-name map per architecture and layer count;
`counted_parses`, which counts them (the `gguf_parses` fixture)."""

import os

import pytest

from assistant.gguf_reading import counted_parses, parsed_once


def write_gguf(path, name: str) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()


def name_of(path) -> str:
    import gguf

    return gguf.GGUFReader(str(path)).fields["general.name"].contents()


def test_a_file_is_parsed_once_per_block_and_again_once_rewritten(tmp_path, gguf_parses):
    import gguf

    path = tmp_path / "model.gguf"
    write_gguf(path, "one1")
    with parsed_once():
        assert name_of(path) == name_of(path) == "one1"
        with parsed_once():  # a nested block shares the outer block's readers...
            assert name_of(path) == "one1"
        assert name_of(path) == "one1" and len(gguf_parses) == 1  # ...and leaves them in place
        write_gguf(path, "two2")  # the same size: only the modification time tells them apart
        os.utime(path, ns=(0, 0))  # a different modification time even on a coarse clock
        assert name_of(path) == "two2" and len(gguf_parses) == 2
    assert gguf.GGUFReader.__name__ == "CountingReader"  # the original is back after the block
    assert name_of(path) == "two2" and len(gguf_parses) == 3


def test_the_reader_is_restored_when_the_block_fails(tmp_path, gguf_parses):
    import gguf

    with pytest.raises(RuntimeError), parsed_once():
        raise RuntimeError("boom")
    assert gguf.GGUFReader.__name__ == "CountingReader"


def test_counting_ends_with_its_block_even_when_it_fails(tmp_path):
    import gguf

    original = gguf.GGUFReader
    path = tmp_path / "model.gguf"
    write_gguf(path, "one1")
    with pytest.raises(RuntimeError), counted_parses() as parsed:
        name_of(path)
        raise RuntimeError("boom")
    assert parsed == [str(path)] and gguf.GGUFReader is original


def test_tensor_name_maps_are_built_once_per_architecture_and_layer_count():
    """transformers builds the map in every module of the model it walks (397 times for
    SmolLM2): inside the block those are one object, equal to a freshly built one."""
    import gguf

    original = gguf.get_tensor_name_map
    llama = gguf.MODEL_ARCH.LLAMA
    with parsed_once():
        first = gguf.get_tensor_name_map(llama, 30)
        assert gguf.get_tensor_name_map(llama, 30) is first
        assert gguf.get_tensor_name_map(llama, 2) is not first
    assert gguf.get_tensor_name_map is original
    assert original(llama, 30).mapping == first.mapping
    assert first.get_name("model.layers.29.self_attn.q_proj") == "blk.29.attn_q"


def test_transformers_weight_mapping_builds_one_name_map_in_the_block(monkeypatch):
    """The swap reaches transformers (it imports the name at each call): mapping a tiny
    Llama's weights walks all its modules but builds one map."""
    import gguf
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.modeling_gguf_pytorch_utils import TensorProcessor, get_gguf_hf_weights_map

    built = []
    original_init = gguf.TensorNameMap.__init__
    monkeypatch.setattr(gguf.TensorNameMap, "__init__", lambda self, *a: built.append(a) or original_init(self, *a))
    model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=1))
    plain = get_gguf_hf_weights_map(model, TensorProcessor())
    assert len(built) > 10  # every module builds its own
    built.clear()
    with parsed_once():
        assert get_gguf_hf_weights_map(model, TensorProcessor()) == plain
    assert len(built) == 1


def test_one_thread_at_a_time_holds_the_swap():
    """Blocks in two threads do not interleave, so neither restores the other's swap."""
    import threading
    import time

    import gguf

    original = gguf.GGUFReader
    first_inside, second_may_try, order = threading.Event(), threading.Event(), []

    def first():
        with parsed_once():
            first_inside.set()
            second_may_try.wait(5)
            time.sleep(0.3)  # without the lock the second block would open meanwhile
            order.append("first leaves")

    def second():
        first_inside.wait(5)
        second_may_try.set()
        with parsed_once():
            order.append("second enters")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert order == ["first leaves", "second enters"] and gguf.GGUFReader is original


def test_counting_inside_a_shared_block_is_refused():
    with parsed_once(), pytest.raises(RuntimeError, match="enter it outside"), counted_parses():
        pass
