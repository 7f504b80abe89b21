"""`ahf launch`: the command a stage runs under, and one-line errors for a bad launch config."""

from pathlib import Path

import pytest
import yaml
from conftest import PROJECT, run_ahf, write_params

from stages.common.config import LaunchConfig
from stages.common.errors import StageError
from stages.common.launcher import MALLOC_VARIABLES, launch_plan

PARAMS = Path("params.yaml")
CPU_CONFIG = PROJECT / "configs/accelerate/cpu.yaml"


def plan(stage="sft", environ=None, platform="linux", **launch):
    return launch_plan(stage, PARAMS, LaunchConfig(**launch), environ or {}, python="python", platform=platform)


def test_by_default_the_stage_is_execd_once_with_glibcs_malloc_thresholds():
    default = plan()
    assert default.argv == ["python", "-m", "stages", "sft", "--params", "params.yaml"]
    assert default.env == {name: str(1 << 30) for name in MALLOC_VARIABLES}


def test_thresholds_the_user_set_are_kept_and_off_means_the_stage_runs_in_this_process():
    kept = plan(environ={"MALLOC_MMAP_THRESHOLD_": "65536"})
    assert kept.env == {"MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
    assert plan(malloc_threshold=None).argv is None
    assert plan(environ=dict.fromkeys(MALLOC_VARIABLES, "1")).argv is None
    assert plan(platform="darwin").argv is None  # glibc's variables mean nothing elsewhere


@pytest.mark.slow
def test_an_accelerate_config_runs_the_training_stages_under_accelerate_launch():
    launched = plan(config=str(CPU_CONFIG), malloc_threshold=None)
    assert launched.argv == [
        "python",
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(CPU_CONFIG),
        "-m",
        "stages",
        "sft",
        "--params",
        "params.yaml",
    ]
    assert launched.env == {"ACCELERATE_USE_CPU": "true"}  # cpu.yaml's use_cpu, which torchrun does not pass on
    assert plan("evaluate", config=str(CPU_CONFIG), malloc_threshold=None).argv is None  # one process always


def test_the_environment_variable_overrides_the_param():
    assert plan(environ={"AHF_ACCELERATE_CONFIG": str(CPU_CONFIG)}, malloc_threshold=None).argv[4] == str(CPU_CONFIG)
    assert plan(environ={"AHF_ACCELERATE_CONFIG": ""}, config=str(CPU_CONFIG), malloc_threshold=None).argv is None


@pytest.mark.parametrize(
    ("environ", "key"),
    [({}, "params.yaml: launch.config"), ({"AHF_ACCELERATE_CONFIG": "nope.yaml"}, "AHF_ACCELERATE_CONFIG")],
)
def test_a_missing_config_is_an_error_naming_where_it_was_asked_for(environ, key):
    with pytest.raises(StageError, match=f"^{key}: nope.yaml not found") as error:
        plan("rl", environ=environ, config="nope.yaml")
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_ahf_launch_with_a_bad_config_path_fails_in_one_line_naming_the_param(tmp_path):
    write_params(tmp_path, launch={"config": "configs/accelerate/nope.yaml"})
    result = run_ahf(tmp_path, "launch", "sft")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "ahf launch: error: params.yaml: launch.config: configs/accelerate/nope.yaml not found" in result.stderr


def test_every_shipped_accelerate_config_is_one_accelerate_launch_reads():
    from accelerate.commands.config.config_args import load_config_from_file

    configs = sorted((PROJECT / "configs/accelerate").glob("*.yaml"))
    assert {path.stem for path in configs} == {"cpu", "1gpu", "multi_gpu", "zero2", "zero3", "fsdp", "multi_node"}
    for path in configs:
        settings = yaml.safe_load(path.read_text())
        loaded = load_config_from_file(str(path))
        assert loaded.num_processes == settings["num_processes"], path.name
        assert str(loaded.distributed_type).endswith(settings["distributed_type"]), path.name
