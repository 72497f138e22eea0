"""The shipped catalogue, name resolution, file overrides and relay-model merging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep.catalog import (
    CATALOG_ENV,
    UNKNOWN_CONTEXT_WINDOW,
    ModelCatalog,
    ModelSpec,
    UnknownModelPriceWarning,
    guess_provider,
)
from holysheep.errors import ConfigurationError, ModelNotFoundError
from holysheep.usage import Usage

EMULATOR_IDS = (
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4o-mini",
    "claude-sonnet-4.5",
    "claude-haiku-4.5",
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "deepseek-v3.2",
    "deepseek-r1",
    "o4-mini",
    "grok-4",
    "qwen3-max",
)


@pytest.fixture
def catalog() -> ModelCatalog:
    return ModelCatalog.default()


# ------------------------------------------------------------------ shipped data


@pytest.mark.parametrize(
    ("model", "prices"),
    [
        ("gpt-4.1", ("2.00", "0.50", "8.00")),
        ("claude-sonnet-4.5", ("3.00", "0.30", "15.00")),
        ("gemini-2.5-flash", ("0.30", "0.03", "2.50")),
        ("deepseek-v3.2", ("0.28", "0.028", "0.42")),
    ],
)
def test_seed_prices_exact(catalog: ModelCatalog, model: str, prices: tuple[str, ...]) -> None:
    spec = catalog.get(model)
    got = (spec.input_usd_per_mtok, spec.cached_input_usd_per_mtok, spec.output_usd_per_mtok)
    assert got == tuple(Decimal(p) for p in prices)
    assert all(isinstance(p, Decimal) for p in got)


def test_seed_limits(catalog: ModelCatalog) -> None:
    gpt = catalog.get("gpt-4.1")
    assert (gpt.context_window, gpt.max_output_tokens) == (1_047_576, 32_768)
    assert catalog.get("claude-sonnet-4.5").context_window == 200_000
    assert catalog.get("gemini-2.5-flash").context_window == 1_048_576
    assert catalog.get("deepseek-v3.2").reasoning_field == "reasoning_content"


def test_emulator_models_are_all_shipped_and_priced(catalog: ModelCatalog) -> None:
    assert set(EMULATOR_IDS) <= set(catalog.ids())
    assert all(catalog.get(m).priced for m in EMULATOR_IDS)
    assert len(catalog) >= 12


@pytest.mark.parametrize("spec", list(ModelCatalog.shipped()), ids=lambda s: s.id)
def test_every_shipped_model_is_sane(spec: ModelSpec) -> None:
    assert 0 < spec.max_output_tokens <= spec.context_window
    assert spec.priced
    assert spec.input_usd_per_mtok is not None and spec.output_usd_per_mtok is not None
    assert spec.cached_input_usd_per_mtok is not None
    assert Decimal(0) <= spec.cached_input_usd_per_mtok <= spec.input_usd_per_mtok
    assert spec.output_usd_per_mtok >= 0
    assert spec.provider in {"openai", "anthropic", "google", "deepseek", "xai", "alibaba"}
    assert spec.provider == guess_provider(spec.id)
    assert spec.latency_tier in {"fast", "standard", "slow"}
    assert 30 <= spec.default_timeout <= 600
    if spec.reasoning and spec.latency_tier == "slow":
        assert spec.default_timeout >= 300


def test_shipped_file_is_package_data() -> None:
    from importlib.resources import files

    assert (files("holysheep") / "data" / "catalog.toml").is_file()


def test_import_is_cheap_and_parse_is_lazy() -> None:
    code = "import holysheep.catalog as c; print(c._shipped.cache_info().currsize)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "shared")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "0"


# ------------------------------------------------------------------ lookup


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-4.1", "gpt-4.1"),
        ("GPT-4.1", "gpt-4.1"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("openai/gpt-4.1", "gpt-4.1"),
        ("anthropic/claude-sonnet-4.5", "claude-sonnet-4.5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4.5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4.5"),
        ("claude-haiku-4-5", "claude-haiku-4.5"),
        ("deepseek-chat", "deepseek-v3.2"),
        ("grok-4-0709", "grok-4"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("gemini-2.5-flash-20250617", "gemini-2.5-flash"),
    ],
)
def test_resolution(catalog: ModelCatalog, name: str, expected: str) -> None:
    assert catalog.get(name).id == expected
    assert catalog.find(name) is catalog.get(expected)
    assert name in catalog


def test_unknown_model_suggests_close_id(catalog: ModelCatalog) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        catalog.get("gpt4.1")
    assert "did you mean 'gpt-4.1'" in str(info.value)
    assert info.value.suggestions[0] == "gpt-4.1"
    assert catalog.find("gpt4.1") is None
    assert "gpt4.1" not in catalog
    assert 42 not in catalog


def test_iteration_and_ids(catalog: ModelCatalog) -> None:
    assert [s.id for s in catalog] == list(catalog.ids())
    assert len(set(catalog.ids())) == len(catalog)


# ------------------------------------------------------------------ cost


def test_cost_of_unknown_model_warns_and_is_none(catalog: ModelCatalog) -> None:
    with pytest.warns(UnknownModelPriceWarning, match=r"mystery-model.*HOLYSHEEP_CATALOG"):
        assert catalog.cost("mystery-model", Usage(10, 10, 20, 0, 0)) is None


def test_cost_of_unpriced_relay_model_warns_and_is_none(catalog: ModelCatalog) -> None:
    merged = catalog.merge_relay_models(["claude-opus-4-6"])
    with pytest.warns(UnknownModelPriceWarning, match="no price"):
        assert merged.cost("claude-opus-4-6", Usage(10, 10, 20, 0, 0)) is None


def test_cost_of_known_model(catalog: ModelCatalog) -> None:
    cost = catalog.cost("gpt-4.1-2025-04-14", Usage(1_000_000, 0, 1_000_000, 0, 0))
    assert cost is not None and cost.model == "gpt-4.1" and cost.total_usd == Decimal("2")


# ------------------------------------------------------------------ relay models and merging


def test_merge_relay_models_adds_unknown_ids_unpriced(catalog: ModelCatalog) -> None:
    served = [
        "gpt-4.1",
        "claude-sonnet-4-5-20250929",
        "claude-opus-4-6",
        "MiniMax-M2.5-highspeed",
        "vendor/new-model",
        "claude-opus-4-6",
    ]
    merged = catalog.merge_relay_models(served)
    assert merged is not catalog and len(catalog) == len(ModelCatalog.shipped())
    assert len(merged) == len(catalog) + 3
    assert merged.get("gpt-4.1") is catalog.get("gpt-4.1")
    opus = merged.get("claude-opus-4-6")
    assert not opus.priced and opus.input_usd_per_mtok is None and opus.output_usd_per_mtok is None
    assert opus.provider == "anthropic"
    assert (opus.context_window, opus.max_output_tokens) == (UNKNOWN_CONTEXT_WINDOW, 4096)
    assert merged.get("minimax-m2.5-highspeed").provider == "minimax"
    assert merged.get("vendor/new-model").provider == "vendor"
    assert "claude-opus-4-6" not in catalog


def test_merge_replaces_same_id(catalog: ModelCatalog) -> None:
    cheaper = ModelSpec(
        "gpt-4.1",
        provider="openai",
        input_usd_per_mtok=Decimal(1),
        output_usd_per_mtok=Decimal(4),
        context_window=1000,
        max_output_tokens=100,
    )
    merged = catalog.merge(ModelCatalog([cheaper]))
    assert merged.get("gpt-4.1") is cheaper
    assert merged.ids().index("gpt-4.1") == catalog.ids().index("gpt-4.1")
    assert catalog.get("gpt-4.1").output_usd_per_mtok == Decimal("8.00")


def test_cached_price_defaults_to_input_price() -> None:
    spec = ModelSpec("x", input_usd_per_mtok=Decimal("1.5"), output_usd_per_mtok=Decimal(3))
    assert spec.cached_input_usd_per_mtok == Decimal("1.5") and spec.priced
    assert not ModelSpec("y", input_usd_per_mtok=Decimal(1)).priced


def test_from_mapping_bare_form() -> None:
    cat = ModelCatalog.from_mapping({"local-model": {"output_usd_per_mtok": 1, "aliases": ["lm"]}})
    assert cat.ids() == ("local-model",)
    assert cat.get("LM").output_usd_per_mtok == Decimal(1)
    assert cat.get("lm").default_timeout == 120.0


# ------------------------------------------------------------------ files and HOLYSHEEP_CATALOG

OVERRIDE_TOML = """
[models."my-model"]
provider = "acme"
input_usd_per_mtok = 1.10
output_usd_per_mtok = 2.20
context_window = 32000
max_output_tokens = 4000
latency_tier = "fast"
"""


def test_env_toml_replaces_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cat.toml"
    path.write_text(OVERRIDE_TOML, encoding="utf-8")
    monkeypatch.setenv(CATALOG_ENV, str(path))
    cat = ModelCatalog.default()
    assert cat.ids() == ("my-model",)
    spec = cat.get("my-model")
    assert spec.input_usd_per_mtok == Decimal("1.10") and spec.default_timeout == 60.0
    assert spec.cached_input_usd_per_mtok == Decimal("1.10")
    monkeypatch.delenv(CATALOG_ENV)
    assert "gpt-4.1" in ModelCatalog.default()


def test_env_toml_extends_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cat.toml"
    path.write_text(
        'extends = "default"\n[models."gpt-4.1"]\noutput_usd_per_mtok = 9\n' + OVERRIDE_TOML,
        encoding="utf-8",
    )
    monkeypatch.setenv(CATALOG_ENV, str(path))
    cat = ModelCatalog.default()
    assert len(cat) == len(ModelCatalog.shipped()) + 1
    gpt = cat.get("gpt-4.1-2025-04-14")
    assert gpt.output_usd_per_mtok == Decimal(9)
    assert gpt.input_usd_per_mtok == Decimal("2.00") and gpt.context_window == 1_047_576
    assert cat.get("my-model").provider == "acme"
    # Edits to the file are seen on the next call.
    path.write_text(
        'extends = "default"\n[models."gpt-4.1"]\noutput_usd_per_mtok = 7.5\n', encoding="utf-8"
    )
    assert ModelCatalog.default().get("gpt-4.1").output_usd_per_mtok == Decimal("7.5")


def test_env_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cat.json"
    path.write_text(
        json.dumps(
            {
                "extends": "default",
                "models": {
                    "gemini-2.5-flash": {"cached_input_usd_per_mtok": 0.075},
                    "claude-sonnet-4-5-20250929": {
                        "max_output_tokens": 8192
                    },  # an alias updates its model
                    "qwen-local": {
                        "input_usd_per_mtok": 0.1,
                        "output_usd_per_mtok": 0.3,
                        "context_window": 16384,
                        "max_output_tokens": 2048,
                        "tools": True,
                    },
                },
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv(CATALOG_ENV, str(path))
    cat = ModelCatalog.default()
    assert cat.get("gemini-2.5-flash").cached_input_usd_per_mtok == Decimal("0.075")
    sonnet = cat.get("claude-sonnet-4.5")
    assert sonnet.max_output_tokens == 8192 and sonnet.output_usd_per_mtok == Decimal("15.00")
    assert len(cat) == len(ModelCatalog.shipped()) + 1
    qwen = cat.get("qwen-local")
    assert qwen.tools and qwen.provider == "alibaba" and qwen.output_usd_per_mtok == Decimal("0.3")
    cost = cat.cost("qwen-local", Usage(1_000_000, 1_000_000, 2_000_000, 0, 0))
    assert cost is not None and cost.total_usd == Decimal("0.4")


@pytest.mark.parametrize(
    ("name", "text", "fault"),
    [
        ("bad.toml", "[models.x\n", "not valid TOML"),
        ("bad.json", "{", "not valid JSON"),
        ("typo.toml", '[models."x"]\nouput_usd_per_mtok = 1\n', "ouput_usd_per_mtok"),
        ("neg.toml", '[models."x"]\ninput_usd_per_mtok = -1\n', "non-negative"),
        (
            "limits.toml",
            '[models."x"]\ncontext_window = 100\nmax_output_tokens = 200\n',
            "exceeds context_window",
        ),
        (
            "cache.toml",
            '[models."x"]\ninput_usd_per_mtok = 1\ncached_input_usd_per_mtok = 2\n',
            "exceeds input price",
        ),
        ("tier.toml", '[models."x"]\nlatency_tier = "warp"\n', "latency_tier"),
        ("ext.toml", 'extends = "other"\n', "extends"),
        ("top.toml", 'extends = "default"\nmodel = 1\n', "top-level"),
        ("shape.json", '{"models": {"x": 3}}', "table"),
        ("cat.yaml", "models: {}", ".toml or .json"),
    ],
)
def test_bad_file_names_path_and_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, fault: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        ModelCatalog.from_file(path)
    assert str(path) in str(info.value) and fault in str(info.value)
    monkeypatch.setenv(CATALOG_ENV, str(path))
    with pytest.raises(ConfigurationError, match=fault.replace(".", r"\.")):
        ModelCatalog.default()


def test_missing_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "nope.toml"
    monkeypatch.setenv(CATALOG_ENV, str(path))
    with pytest.raises(ConfigurationError, match=CATALOG_ENV) as info:
        ModelCatalog.default()
    assert str(path) in str(info.value)
    with pytest.raises(ConfigurationError, match="cannot read"):
        ModelCatalog.from_file(path)
