"""Duplicates out of training data, in one streaming pass with bounded memory.

Exact: a record (conversation or FAQ entry) whose normalised text (NFKC, case-folded,
punctuation and spacing ignored) equals an earlier record's is a duplicate. A 64-bit
digest per record is kept, with where it was first seen.

Near: an example whose final exchange (the customer's last message and the reply being
taught) is a near twin of an earlier example's is a duplicate, wherever either landed, so
no validation example has a near twin in training. "Near twin" is Jaccard similarity of
word-bigram sets from about 0.7 up, estimated with one-permutation MinHash (96 bins, 4
hashes per shingle, densified) and found with LSH (12 bands of 8 rows: in theory pairs at Jaccard 0.9 are caught
99.99% of the time, at 0.8 89%, at 0.7 51%, at 0.6 18%, at 0.5 5%; `tests/test_data_quality.py`
measures the rates on random texts). Recall near 1 matters more than sparing a few similar
pairs: a near twin across train and validation inflates every validation figure.
Examples of the same conversation are compared too: an agent who sends the same reply
twice teaches it once.

Why not datasketch: its MinHashLSH keeps every band key of every example in Python dicts
(about 1 KB per example: a million examples would not stay in flat memory) and hashes
shingles one SHA-1 call at a time; its LSHBloom needs a C extension and the item count up
front. Here each LSH band is a Bloom filter of fixed size (LSHBloom, Khan et al. 2024),
so memory is fixed (48 MiB) whatever the input, and MinHash is one vectorised numpy step
that hashes each shingle 4 times (one-permutation hashing) rather than 96 times.
With 4 bits per band the rate of false near-duplicate flags is about 0.01% after 500,000
unique examples and 2.4% after 2 million; `false_positive_rate()` reports the current one.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

WORD = re.compile(r"\w+")
NUM_PERM, BANDS, ROWS = 96, 12, 8
BLOOM_BITS = 1 << 25  # per band: 4 MiB
BLOOM_WORDS = BLOOM_BITS // 64
BLOOM_HASHES = 4
DENSIFY_ROUNDS = 24  # then rotation for what is left
HASHES_PER_SHINGLE = 4
EMPTY = np.uint64(1 << 32)  # above every 32-bit bin value


def _mix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, element-wise: every input bit moves every output bit."""
    x = x ^ (x >> np.uint64(33))
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


# ASCII characters outside \w, mapped to spaces: on ASCII text, translating with this and
# splitting gives exactly WORD.findall's words, twice as fast.
_ASCII_NON_WORD_CODES = [i for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")]
_ASCII_NON_WORD = str.maketrans(dict.fromkeys(map(chr, _ASCII_NON_WORD_CODES), " "))


def _folded(text: str) -> str:
    """Compatibility forms folded (NFKC) and case folded."""
    if unicodedata.is_normalized("NFKC", text):
        return text.casefold()
    return unicodedata.normalize("NFKC", text).casefold()


def words_of(text: str) -> list[str]:
    """The words compared for duplicates: compatibility forms folded, case and punctuation ignored."""
    if text.isascii():
        return text.lower().translate(_ASCII_NON_WORD).split()
    return WORD.findall(_folded(text))


# The same for bytes: split as bytes, several times faster than as str. UTF-8 encodes a
# non-ASCII character with bytes >= 0x80 only, so its bytes stay inside their word.
_ASCII_NON_WORD_BYTES = bytes.maketrans(bytes(_ASCII_NON_WORD_CODES), b" " * len(_ASCII_NON_WORD_CODES))
_NON_ASCII_NON_WORD = re.compile(r"[^\x00-\x7f\w]")  # "—", "’", "«", a no-break space


def spaced_word_bytes(text: str) -> bytes:
    """`words_of(text)` UTF-8 encoded, separated by runs of ASCII spaces (and nothing else)."""
    if text.isascii():
        return text.encode("ascii").lower().translate(_ASCII_NON_WORD_BYTES)
    folded = _folded(text)
    if _NON_ASCII_NON_WORD.search(folded) is None:  # only ASCII punctuation splits words
        return folded.encode("utf-8", "surrogatepass").translate(_ASCII_NON_WORD_BYTES)
    return " ".join(WORD.findall(folded)).encode("utf-8", "surrogatepass")


def word_bytes(text: str) -> list[bytes]:
    """`words_of(text)`, each word UTF-8 encoded: what the exact-duplicate index hashes."""
    return spaced_word_bytes(text).split()


_WORD_HASH_BASE = 0x100000001B3  # FNV's 64-bit prime: odd, so it has an inverse mod 2**64
_WORD_HASH_INVERSE = pow(_WORD_HASH_BASE, -1, 1 << 64)


def _powers(base: int, n: int) -> np.ndarray:
    """base**0 .. base**(n-1) modulo 2**64 (numpy's unsigned products wrap)."""
    powers = np.full(n, base, dtype=np.uint64)
    powers[0] = 1
    return np.cumprod(powers, dtype=np.uint64)


def batch_word_ids(texts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit id of each word of each text, in order; words per text) for texts from
    `spaced_word_bytes`. A text without words gets one word of id 0.

    Why not a hash per word in Python: that loop was a tenth of a whole `prepare` run.
    Here every word of the batch is hashed at once: a polynomial hash of its bytes taken
    from one prefix sum over the joined batch (sum of (byte + 1) * B**position; a word's
    hash is its slice's sum divided by B**start, all modulo 2**64), then mixed.
    """
    joined = np.frombuffer(b" ".join(texts), dtype=np.uint8)
    in_word = np.concatenate(([False], joined != 32, [False]))
    edges = np.flatnonzero(in_word[1:] != in_word[:-1])
    starts, ends = edges[0::2], edges[1::2]
    powers = _powers(_WORD_HASH_BASE, len(joined) + 1)
    prefix = np.concatenate(([np.uint64(0)], np.cumsum((joined.astype(np.uint64) + np.uint64(1)) * powers[:-1])))
    unscale = _powers(_WORD_HASH_INVERSE, len(joined) + 1)[starts]
    ids = _mix64((prefix[ends] - prefix[starts]) * unscale)
    text_starts = np.cumsum([0] + [len(text) + 1 for text in texts[:-1]])
    text_of = np.searchsorted(text_starts, starts, side="right") - 1
    counts = np.bincount(text_of, minlength=len(texts))
    if counts.all():
        return ids, counts
    wordless = np.flatnonzero(counts == 0)
    order = np.argsort(np.concatenate([text_of, wordless]), kind="stable")
    return np.concatenate([ids, np.zeros(len(wordless), dtype=np.uint64)])[order], np.maximum(counts, 1)


def normalise(text: str) -> str:
    """Text as compared for exact duplicates: `words_of` joined by single spaces."""
    return " ".join(words_of(text))


def digest64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class ExactIndex:
    """Digests of the records seen so far, each with where it was first seen."""

    def __init__(self):
        self.first_seen: dict[int, int] = {}
        self.files: list[str] = []

    def seen_before(self, key_text: str, path: str, line: int) -> str | None:
        """'path:line' of an earlier record with the same normalised text, else None
        (and this one is remembered)."""
        if not self.files or self.files[-1] != path:
            self.files.append(path)
        key = digest64(b" ".join(word_bytes(key_text)))  # normalise(key_text), encoded
        packed = self.first_seen.get(key)
        if packed is not None:
            return f"{self.files[packed >> 32]}:{packed & 0xFFFFFFFF}"
        self.first_seen[key] = ((len(self.files) - 1) << 32) | (line & 0xFFFFFFFF)
        return None


class NearDuplicateIndex:
    """MinHash signatures of word bigrams, banded into Bloom filters (see module docstring)."""

    def __init__(self, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.seeds = rng.integers(0, 1 << 63, HASHES_PER_SHINGLE, dtype=np.uint64)
        self.densify_order = rng.integers(0, NUM_PERM, (DENSIFY_ROUNDS, NUM_PERM))
        self.band_mix = rng.integers(1, 1 << 63, (BANDS, ROWS), dtype=np.uint64) | np.uint64(1)
        # A blocked Bloom filter per band: each insert sets BLOOM_HASHES bits in one 64-bit
        # word, so a band costs one memory word (and one numpy index) per lookup.
        self.bloom = np.zeros(BANDS * BLOOM_WORDS, dtype=np.uint64)
        self.band_offset = np.arange(BANDS, dtype=np.uint64) * np.uint64(BLOOM_WORDS)
        self.bit_shifts = np.arange(BLOOM_HASHES, dtype=np.uint64) * np.uint64(6)
        self.inserted = 0

    def signatures(self, texts: list[str]) -> np.ndarray:
        """MinHash signatures (len(texts), NUM_PERM) of the texts' word bigrams, computed
        in one vectorised pass (numpy's per-call cost dominates for single short texts)."""
        word_ids, counts = batch_word_ids([spaced_word_bytes(text) for text in texts])
        # Bigram shingles: each word's id mixed with the next one's, within a text; a
        # one-word text's only shingle is its word.
        per_text = np.maximum(counts - 1, 1)
        shingle_starts = np.concatenate([[0], np.cumsum(per_text)[:-1]])
        total = int(per_text.sum())
        word_starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        left = np.repeat(word_starts - shingle_starts, per_text) + np.arange(total)
        is_pair = np.repeat(counts > 1, per_text)
        right = np.minimum(left + 1, len(word_ids) - 1)
        shingles = np.where(is_pair, word_ids[left] * np.uint64(0x9E3779B97F4A7C15) + word_ids[right], word_ids[left])
        return self.densify(self.one_permutation(shingles, per_text))

    def one_permutation(self, shingles: np.ndarray, per_text: np.ndarray) -> np.ndarray:
        """One-permutation MinHash (Li, Owen and Zhang 2012): a shingle's hash picks one of
        NUM_PERM bins and competes for that bin's minimum. Each shingle is hashed
        HASHES_PER_SHINGLE times (4 instead of NUM_PERM), which leaves few bins empty on
        short texts: a bin still agrees between two texts with probability equal to their
        Jaccard similarity. Empty bins hold EMPTY."""
        hashed = _mix64((shingles[None, :] ^ self.seeds[:, None]).reshape(-1))
        bins = ((hashed >> np.uint64(32)) * np.uint64(NUM_PERM)) >> np.uint64(32)
        values = hashed & np.uint64(0xFFFFFFFF)
        text_of = np.tile(np.repeat(np.arange(len(per_text), dtype=np.uint64), per_text), len(self.seeds))
        signatures = np.full((len(per_text), NUM_PERM), EMPTY, dtype=np.uint64)
        np.minimum.at(signatures.reshape(-1), text_of * np.uint64(NUM_PERM) + bins, values)
        return signatures

    def densify(self, signatures: np.ndarray) -> np.ndarray:
        """Empty bins filled from non-empty ones (optimal densification, Shrivastava 2017):
        empty bin j tries bins densify_order[0, j], densify_order[1, j], ... and copies
        the first non-empty one. Every text tries the same bins in the same order, so two texts
        still agree on a bin with probability equal to their Jaccard similarity."""
        empty = signatures == EMPTY
        if not empty.any():
            return signatures
        filled = signatures.copy()
        rows, cols = np.nonzero(empty)  # the bins still to fill
        for attempt in range(len(self.densify_order)):
            if not len(rows):
                return filled
            source = self.densify_order[attempt, cols]
            found = ~empty[rows, source]
            filled[rows[found], cols[found]] = signatures[rows[found], source[found]]
            rows, cols = rows[~found], cols[~found]
        if len(rows):
            # Bins still empty (a text of a few words): the next non-empty bin to the right,
            # going round (rotation densification, Shrivastava and Li 2014).
            position = np.where(~empty, np.arange(NUM_PERM), 2 * NUM_PERM)
            doubled = np.concatenate([position, position + NUM_PERM], axis=1)
            next_full = np.minimum.accumulate(doubled[:, ::-1], axis=1)[:, ::-1] % NUM_PERM
            filled[rows, cols] = signatures[rows, next_full[rows, cols]]
        return filled

    def seen_before_many(self, texts: list[str]) -> list[bool]:
        """For each text in order: True if an earlier text (or an earlier one of these) is
        a near twin; otherwise it is added."""
        if not texts:
            return []
        signatures = self.signatures(texts)
        band_hash = (signatures.reshape(len(texts), BANDS, ROWS) * self.band_mix).sum(axis=2)
        words = (band_hash >> np.uint64(32)) % np.uint64(BLOOM_WORDS) + self.band_offset
        bits = (band_hash[:, :, None] >> self.bit_shifts) & np.uint64(63)
        masks = np.bitwise_or.reduce(np.uint64(1) << bits, axis=2)
        # Against the texts before this batch: one vectorised lookup.
        seen = ((self.bloom[words] & masks) == masks).any(axis=1).tolist()
        # Against earlier texts of this batch: the same band hash. Only texts that share one
        # with another text of the batch can be affected (few): those are checked in order.
        _, inverse, counts = np.unique(band_hash, return_inverse=True, return_counts=True)
        shared = (counts[inverse.reshape(-1)] > 1).reshape(len(texts), BANDS).any(axis=1)
        batch_keys: set = set()
        for i in np.flatnonzero(shared).tolist():
            band_keys = set(band_hash[i].tolist())
            if not seen[i] and not band_keys.isdisjoint(batch_keys):
                seen[i] = True
            if not seen[i]:
                batch_keys |= band_keys
        added = [i for i, duplicate in enumerate(seen) if not duplicate]
        if added:
            np.bitwise_or.at(self.bloom, words[added].ravel(), masks[added].ravel())
            self.inserted += len(added)
        return seen

    def false_positive_rate(self) -> float:
        """The chance that a new, unique text is flagged, at the current fill (the standard
        Bloom estimate; blocking into 64-bit words raises it slightly)."""
        per_band = (1 - np.exp(-BLOOM_HASHES * self.inserted / BLOOM_BITS)) ** BLOOM_HASHES
        return float(1 - (1 - per_band) ** BANDS)
