from pathlib import Path

import pytest

from stages.common.config import DataConfig, RankConfig, SimulateConfig, load_section
from stages.common.errors import StageError


def params_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_a_missing_section_takes_the_defaults(tmp_path):
    assert load_section(params_file(tmp_path, "data: {}\n"), "rank", RankConfig) == RankConfig()


def test_a_value_of_the_wrong_type_names_its_key(tmp_path):
    path = params_file(tmp_path, "rank:\n  min_chars: fifty\n")
    with pytest.raises(StageError, match=r"rank\.min_chars: Input should be a valid integer.*'fifty'"):
        load_section(path, "rank", RankConfig)


def test_a_number_written_as_a_string_is_refused(tmp_path):
    with pytest.raises(StageError, match=r"simulate\.n_prompts"):
        load_section(params_file(tmp_path, "simulate:\n  n_prompts: '100'\n"), "simulate", SimulateConfig)


def test_a_misspelt_key_is_an_error_not_a_silent_default(tmp_path):
    with pytest.raises(StageError, match=r"rank\.w_rnak: Extra inputs are not permitted"):
        load_section(params_file(tmp_path, "rank:\n  w_rnak: 2.0\n"), "rank", RankConfig)


def test_out_of_range_values_are_refused(tmp_path):
    with pytest.raises(StageError, match=r"rank\.tier_cutpoints"):
        load_section(params_file(tmp_path, "rank:\n  tier_cutpoints: [0.8, 0.2]\n"), "rank", RankConfig)
    with pytest.raises(StageError, match="leave a train split"):
        load_section(params_file(tmp_path, "rank:\n  val_share: 0.5\n  test_share: 0.5\n"), "rank", RankConfig)


def test_broken_or_missing_params_files(tmp_path):
    with pytest.raises(StageError, match="not found"):
        load_section(tmp_path / "absent.yaml", "rank", RankConfig)
    with pytest.raises(StageError, match="not valid YAML"):
        load_section(params_file(tmp_path, "rank: [unclosed\n"), "rank", RankConfig)


def test_nested_data_sections_name_their_full_key(tmp_path):
    path = params_file(tmp_path, "data:\n  reddit:\n    listing: best\n")
    with pytest.raises(StageError, match=r"data\.reddit\.listing: Input should be 'top', 'new' or 'hot'"):
        load_section(path, "data", DataConfig)
    with pytest.raises(StageError, match=r"data\.dump\.comment: Extra inputs"):
        load_section(params_file(tmp_path, "data:\n  dump:\n    comment: [a.zst]\n"), "data", DataConfig)


def test_reddit_defaults_apply_under_a_partial_section(tmp_path):
    data = load_section(
        params_file(tmp_path, "data:\n  source: reddit\n  reddit:\n    limit: null\n"), "data", DataConfig
    )
    assert data.reddit.limit is None and data.reddit.listing == "top" and data.dump.submissions == []


def stage_sections_broken_one_at_a_time():
    from stages.common.config import stage_sections

    for stage, sections in stage_sections().items():
        for name, _ in sections:
            yield pytest.param(stage, name, id=f"{stage}-{name}")


@pytest.mark.parametrize(("stage", "section"), list(stage_sections_broken_one_at_a_time()))
def test_the_clis_early_check_says_what_the_stage_itself_would(tmp_path, monkeypatch, stage, section):
    """The CLI checks params before importing a stage; the stage must read the same sections,
    so each broken section gives the very line the stage's own run() gives."""
    import importlib

    import yaml

    from stages.common.config import check_stage_params

    params = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())
    if section == "alpha":
        params["alpha"] = "high"
    else:
        params[section]["no_such_key"] = 1
    monkeypatch.chdir(tmp_path)
    path = Path("params.yaml")
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(StageError) as early:
        check_stage_params(stage, path)
    with pytest.raises(StageError) as late:
        importlib.import_module(f"stages.{stage}").run(path)
    assert str(early.value) == str(late.value) and section in str(early.value)
