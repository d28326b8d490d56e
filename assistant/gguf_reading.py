"""Parse a GGUF file's metadata once, however many times transformers reads it.

Loading a Llama-family GGUF model, transformers calls `load_gguf_checkpoint` for
AutoTokenizer's config, again for the model's config, and for the weights (the tokenizer's
vocabulary comes through its own reader), and each call constructs a new `gguf.GGUFReader`,
which parses the whole metadata: for SmolLM2 a 49k-token vocabulary and its merges, read by
gguf-py one element at a time, about 6 s per parse on 2 AVX2 cores. Measured there,
counting the readers made: verifying a GGUF export of the tiny test model parsed its file
3 times in 23.3-25.5 s, and once in 11.7-13.5 s inside `parsed_once()`; converting the
embedded model (those three and `gguf_field`) parsed it 4 times in 31.7-46.6 s, and once in
20.9-21.3 s, with byte-identical weights (benchmarks/eval_export_speed.py times conversion).

Mapping the weights' names cost another 8 s of those: transformers walks the model's
modules recursively and builds gguf-py's `TensorNameMap` for the architecture anew in each
of them (397 times for SmolLM2, the same map every time). Within `parsed_once()` it is built
once per architecture and layer count: converting the embedded model then took 13.0-14.3 s
against 22.4-22.7 s with the reader shared alone, again byte-identical.

Within `parsed_once()` each file is parsed once and its reader handed to every later
reader of that file. Readers only read (tensors are views of the file's memory map), and
the key holds the file's inode, size and modification time, so a rewritten or replaced
file is parsed anew. Name maps are only looked up in. The swaps are process-wide, so one
block is open at a time (a lock; a thread's nested blocks share its outer block's), and a
thread reading a GGUF file meanwhile outside any block shares its readers too, which only
read.

Why by hand: neither transformers nor gguf-py keeps parsed metadata or name maps between
calls, and transformers offers no way to pass them in.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from typing import Iterator


@contextlib.contextmanager
def parsed_once() -> Iterator[None]:
    """Make `gguf.GGUFReader(path)` return one shared reader per file, and
    `gguf.get_tensor_name_map(arch, n_blocks)` one shared map per architecture and layer count,
    until the block ends (transformers imports both names from the module at each call).
    Nested blocks share the outer block's."""
    import gguf

    with _one_block_at_a_time:
        if _inside_shared_block(gguf):  # nested in this thread's block
            yield
            return
        with _shared_for_the_block(gguf):
            yield


_one_block_at_a_time = threading.RLock()


def _inside_shared_block(gguf) -> bool:
    return getattr(gguf.GGUFReader, "assistant_shared", False)


@contextlib.contextmanager
def _shared_for_the_block(gguf) -> Iterator[None]:
    original_reader, original_name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple, object] = {}

    def shared_reader(path, mode="r"):
        stat = os.stat(path)
        key = (os.path.realpath(path), mode, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if key not in readers:
            readers[key] = original_reader(path, mode)
        return readers[key]

    shared_reader.assistant_shared = True
    gguf.GGUFReader = shared_reader
    gguf.get_tensor_name_map = functools.cache(original_name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = original_reader, original_name_map


@contextlib.contextmanager
def counted_parses() -> Iterator[list[str]]:
    """The paths of the GGUF files parsed in the block, one entry per `gguf.GGUFReader`
    actually constructed (for tests and benchmarks: enter it outside `parsed_once()`, which
    then shares the counting readers)."""
    import gguf

    if _inside_shared_block(gguf):
        raise RuntimeError("counted_parses() inside parsed_once() would count nothing: enter it outside")
    parsed: list[str] = []
    original = gguf.GGUFReader

    class CountingReader(original):
        def __init__(self, path, mode="r"):
            parsed.append(str(path))
            super().__init__(path, mode)

    gguf.GGUFReader = CountingReader
    try:
        yield parsed
    finally:
        gguf.GGUFReader = original
