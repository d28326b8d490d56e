"""Brand profiles: the voice a tuned assistant should speak in.

A profile is a YAML file in `brand_profiles/` validated with pydantic. Its system prompt
goes into every training example and every chat; its sign-off is appended to training
targets that lack it; its banned phrases keep off-voice replies out of the training set;
its example replies become extra training pairs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import AssistantError
from .yaml_models import load_yaml_model

# Profiles shipped with the project live beside the package in a source checkout.
BUILTIN_PROFILE_DIR = Path(__file__).resolve().parent.parent / "brand_profiles"


@dataclass(frozen=True)
class VoiceCheck:
    name: str  # "banned", "sign_off" or "preferred"
    passed: bool
    note: str = ""


class ExampleReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1)
    assistant: str = Field(min_length=1)


class RedactionPattern(BaseModel):
    """A profile's own kind of personal data, e.g. loyalty card or customer numbers."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="Placeholder name: LOYALTY becomes [LOYALTY].")
    regex: str = Field(min_length=1, description="Python regular expression; group 'value' if only part is PII.")
    description: str = ""

    @field_validator("regex")
    @classmethod
    def _compiles(cls, regex: str) -> str:
        import re

        try:
            re.compile(regex)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return regex


class RedactionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patterns: list[RedactionPattern] = Field(default_factory=list)
    keep: list[str] = Field(
        default_factory=list, description="Values never redacted: the brand's own e-mail, phone number, handle."
    )


class BrandProfile(BaseModel):
    """A validated brand voice. Unknown keys are errors, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Display name, e.g. 'Acme Coffee'.")
    description: str = Field(min_length=1)
    tone: list[str] = Field(min_length=1, description="Adjectives, e.g. [warm, concise].")
    system_prompt: str = Field(min_length=1)
    preferred_phrases: list[str] = Field(default_factory=list)
    banned_phrases: list[str] = Field(default_factory=list)
    sign_off: str = Field(default="", description="Appended to replies; empty for none.")
    append_sign_off: bool = Field(
        default=True, description="Add the sign-off to training targets that lack it."
    )
    on_banned_phrase: Literal["drop", "keep"] = Field(
        default="drop", description="What prepare does with a target using a banned phrase."
    )
    example_replies: list[ExampleReply] = Field(default_factory=list)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    boilerplate: list[str] = Field(
        default_factory=list, description="Extra regexes for canned agent turns kept out of training."
    )

    @field_validator("boilerplate")
    @classmethod
    def _boilerplate_compiles(cls, items: list[str]) -> list[str]:
        return [RedactionPattern._compiles(item) for item in items]

    @field_validator("tone", "preferred_phrases", "banned_phrases")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        if any(not item.strip() for item in items):
            raise ValueError("items must be non-empty strings")
        return items

    def voice_checks(self, reply: str) -> list["VoiceCheck"]:
        """The profile's rules checked on a reply: "banned" (no banned phrase) always,
        "sign_off" and "preferred" (at least one preferred phrase) where the profile sets them."""
        lowered = reply.lower()
        banned = self.banned_phrases_in(reply)
        checks = [VoiceCheck("banned", not banned, f"banned: {', '.join(banned[:3])}" if banned else "")]
        if self.sign_off:
            signed = self.sign_off.strip().lower() in lowered
            checks.append(VoiceCheck("sign_off", signed, "" if signed else "no sign-off"))
        if self.preferred_phrases:
            used = any(p.lower() in lowered for p in self.preferred_phrases)
            checks.append(VoiceCheck("preferred", used, ""))
        return checks

    def banned_phrases_in(self, text: str) -> list[str]:
        lowered = text.lower()
        return [p for p in self.banned_phrases if p.lower() in lowered]

    def with_sign_off(self, reply: str) -> str:
        """The reply ending with the sign-off (unchanged if it already has it)."""
        if not self.append_sign_off or not self.sign_off or self.sign_off in reply:
            return reply
        return f"{reply.rstrip()}\n{self.sign_off}"


def resolve_profile_path(name_or_path: str | Path) -> Path:
    """A path as given, else `<name>.yaml` in $ASSISTANT_PROFILES, ./brand_profiles, built-ins."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise AssistantError(f"{candidate}: brand profile not found")
        return candidate
    search = [Path(p) for p in os.environ.get("ASSISTANT_PROFILES", "").split(os.pathsep) if p]
    search += [Path("brand_profiles"), BUILTIN_PROFILE_DIR]
    for folder in search:
        for suffix in (".yaml", ".yml"):
            path = folder / f"{name_or_path}{suffix}"
            if path.is_file():
                return path
    known = sorted({p.stem for folder in search if folder.is_dir() for p in folder.glob("*.y*ml")})
    raise AssistantError(
        f"brand profile '{name_or_path}' not found (expected a .yaml path or one of: "
        f"{', '.join(known) or 'none found'})"
    )


def load_profile(name_or_path: str | Path) -> BrandProfile:
    """Load and validate a profile; errors name the file, the field and what is wrong."""
    return load_yaml_model(BrandProfile, resolve_profile_path(name_or_path), "brand profile")
