"""Speaker names -> chat roles.

Logs name their speakers in many ways ("Customer", "Agent", "Barista"); the pair builder
only knows the roles in `records.ROLES`. Unknown names are errors rather than guesses,
because a wrong guess silently trains the model on the customer's side of the chat.
"""

from __future__ import annotations

from ..errors import AssistantError
from ..records import ROLES
from .text import show

_USER_NAMES = ("customer", "user", "client", "human", "guest", "visitor", "caller")
_ASSISTANT_NAMES = (
    "agent", "assistant", "support", "bot", "staff", "rep", "representative",
    "barista", "advisor", "operator", "gpt",
)  # fmt: skip

DEFAULT_SPEAKER_MAP: dict[str, str] = {
    **{name: "user" for name in _USER_NAMES},
    **{name: "assistant" for name in _ASSISTANT_NAMES},
    "system": "system",
}

# ShareGPT exports use their own vocabulary in the "from" field.
SHAREGPT_SPEAKERS: dict[str, str] = {
    "human": "user", "user": "user",
    "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
    "bard": "assistant", "bot": "assistant",
    "system": "system",
}  # fmt: skip


def normalise_name(name: str) -> str:
    """Case- and spacing-insensitive key ("  Support  Rep" == "support rep")."""
    return " ".join(name.split()).lower()


def build_speaker_map(extra: dict[str, str] | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: DEFAULT_SPEAKER_MAP) with the user's entries merged over it."""
    merged = dict(DEFAULT_SPEAKER_MAP if base is None else base)
    for name, role in (extra or {}).items():
        key, value = normalise_name(str(name)), str(role).strip().lower()
        if not key or value not in ROLES:
            raise AssistantError(
                f"speaker map entry '{show(name)}={show(role)}' is invalid "
                f"(expected NAME=user, NAME=assistant or NAME=system)"
            )
        merged[key] = value
    return merged


def resolve(speaker_map: dict[str, str], name: str) -> str | None:
    return speaker_map.get(normalise_name(name))


def unknown_speaker(name: str, speaker_map: dict[str, str]) -> str:
    """The message for an unknown speaker; the hint names the CLI flag that fixes it."""
    shown = show(name.strip()) or "(empty)"
    flag_name = f'"{shown}"' if " " in shown else shown
    known = ", ".join(sorted(speaker_map))
    return (
        f"unknown speaker '{shown}' (expected one of {known}; "
        f"add --speaker-map {flag_name}=user|assistant)"
    )
