"""`ahf launch STAGE`: run a stage as params.yaml's launch section and the environment ask.

- launch.config, or AHF_ACCELERATE_CONFIG when it is set, names an accelerate config
  file (configs/accelerate/): sft, reward and rl then run under
  `accelerate launch --config_file FILE -m stages STAGE`, one process per device. The
  other stages run in one process whatever it says.
- launch.malloc_threshold sets glibc's MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_
  for the stage, each unless the environment already sets it. On a CPU, glibc otherwise
  hands the large logits tensors back to the kernel after each step and page-faults
  them in again on the next (the issue measured up to 30 s of system time per 13 TRL
  steps). glibc reads them once, at start-up, so for this process they come too late:
  the stage is exec'd afresh with them, which costs one interpreter start, not a child.
- Neither asks for anything: the stage runs in this process, as `ahf STAGE` does.
"""

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stages.common.config import LaunchConfig
from stages.common.errors import StageError

CONFIG_VARIABLE = "AHF_ACCELERATE_CONFIG"
MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
CONFIGS_DIR = Path("configs/accelerate")
# The stages written for many processes (the others would run N copies of themselves).
DISTRIBUTED_STAGES = ("sft", "reward", "rl")


@dataclass(frozen=True)
class LaunchPlan:
    argv: list[str] | None  # the command to exec; None: run the stage in this process
    env: dict[str, str] = field(default_factory=dict)  # variables to add to the environment


def accelerate_config(launch: LaunchConfig, environ: Mapping[str, str], params: Path) -> tuple[Path | None, str]:
    """The accelerate config asked for (None: one process), and who asked, for errors."""
    if CONFIG_VARIABLE in environ:
        value, source = environ[CONFIG_VARIABLE] or None, CONFIG_VARIABLE
    else:
        value, source = launch.config, f"{params}: launch.config"
    if value is None:
        return None, source
    path = Path(value)
    if not path.is_file():
        shipped = ", ".join(sorted(p.name for p in CONFIGS_DIR.glob("*.yaml"))) or "none here"
        raise StageError(
            f"{source}: {value} not found (the project's accelerate configs, in {CONFIGS_DIR}/: {shipped})"
        )
    return path, source


def read_accelerate_config(path: Path, source: str) -> dict:
    try:
        settings = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise StageError(f"{source}: {path} is not valid YAML: {error}".replace("\n", " ")) from error
    if not isinstance(settings, dict):
        raise StageError(f"{source}: {path} must hold a mapping of accelerate settings")
    return settings


def launch_plan(
    stage: str,
    params: Path,
    launch: LaunchConfig,
    environ: Mapping[str, str],
    python: str = sys.executable,
    platform: str = sys.platform,
) -> LaunchPlan:
    env: dict[str, str] = {}
    if launch.malloc_threshold is not None and platform.startswith("linux"):
        env |= {name: str(launch.malloc_threshold) for name in MALLOC_VARIABLES if name not in environ}
    stage_command = ["-m", "stages", stage, "--params", str(params)]
    if stage in DISTRIBUTED_STAGES:
        config, source = accelerate_config(launch, environ, params)
        if config is not None:
            # torchrun's processes do not learn of use_cpu from the config; accelerate reads this.
            if read_accelerate_config(config, source).get("use_cpu") and "ACCELERATE_USE_CPU" not in environ:
                env["ACCELERATE_USE_CPU"] = "true"
            return LaunchPlan(
                [python, "-m", "accelerate.commands.launch", "--config_file", str(config), *stage_command], env
            )
    if env:
        return LaunchPlan([python, *stage_command], env)
    return LaunchPlan(None)
