
import pytest

from assistant.brand import load_profile
from assistant.config import TrainConfig, load_train_config
from assistant.errors import AssistantError
from conftest import REPO, write


@pytest.mark.parametrize("path", sorted((REPO / "brand_profiles").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_profiles_validate(path):
    profile = load_profile(path)
    assert profile.system_prompt and profile.sign_off and profile.example_replies
    for pair in profile.example_replies:
        assert not profile.banned_phrases_in(pair.assistant), "example replies must respect the profile"


def test_profile_found_by_name():
    assert load_profile("acme_coffee").name


@pytest.mark.parametrize(
    "text, expected",
    [
        ("name: A\n", "field 'description': Field required"),
        ("name: A\ndescription: d\ntone: warm\nsystem_prompt: s\n", "field 'tone'"),
        ("name: A\ndescription: d\ntone: [warm]\nsystem_prompt: s\ncolour: red\n", "field 'colour': Extra inputs"),
        ("name: [unclosed\n", "bad.yaml:2: invalid YAML (expected"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_profile_errors_name_file_and_field(tmp_path, text, expected):
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(AssistantError) as info:
        load_profile(path)
    assert str(path) in str(info.value) and expected in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_profile_name_lists_known_ones():
    with pytest.raises(AssistantError, match="acme_coffee"):
        load_profile("no_such_brand")


def test_demo_train_config_validates():
    config = load_train_config(REPO / "demo" / "train.yaml", {})
    assert isinstance(config, TrainConfig) and config.epochs > 0


def test_train_config_flags_override_file_and_typos_fail(tmp_path):
    path = write(tmp_path / "t.yaml", "epochs: 2\nlearning_rate: 0.001\n")
    config = load_train_config(path, {"epochs": 5.0, "seed": None})
    assert config.epochs == 5.0 and config.learning_rate == 0.001 and config.seed == 42
    write(tmp_path / "typo.yaml", "epocs: 2\n")
    with pytest.raises(AssistantError, match="typo.yaml: field 'epocs'"):
        load_train_config(tmp_path / "typo.yaml", {})
    with pytest.raises(AssistantError, match="field 'batch_size'"):
        load_train_config(None, {"batch_size": 0})
