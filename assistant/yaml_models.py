"""Loading YAML files into pydantic models with one-line errors naming file, field and problem."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import AssistantError

M = TypeVar("M", bound=BaseModel)


def read_yaml_mapping(path: Path, what: str) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssistantError(f"{path}: {what} not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise AssistantError(f"{where}: invalid YAML ({getattr(exc, 'problem', None) or exc})") from None
    except UnicodeDecodeError:
        raise AssistantError(f"{path}: expected UTF-8 text") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AssistantError(f"{path}: expected a mapping of {what} fields at the top level")
    return data


def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field '{field}': {first['msg']}{more}"


def validate(model: type[M], data: dict, origin: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise AssistantError(f"{origin}: {validation_message(exc)}") from None


def load_yaml_model(model: type[M], path: Path, what: str) -> M:
    return validate(model, read_yaml_mapping(path, what), str(path))
