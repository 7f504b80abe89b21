import pytest

from stages.common.config import RLConfig
from stages.common.errors import StageError
from stages.policy_gradient.data_parallel import check_data_parallel


@pytest.mark.parametrize(
    "settings",
    [{"algo": "rloo"}, {"algo": "grpo"}, {"algo": "scst"}, {"algo": "ppo"}, {"algo": "dpo", "dpo_batch_size": 16}],
)
def test_estimators_whose_advantages_are_per_prompt_split_over_processes(settings):
    check_data_parallel(RLConfig(prompts_per_step=8, **settings), 4)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"algo": "reinforce"}, "baseline"),
        ({"algo": "a2c"}, "value loss"),
        ({"algo": "reinforce_pp"}, "whitened"),
        ({"algo": "grpo", "scale_rewards": "batch"}, "scale_rewards"),
    ],
)
def test_estimators_with_whole_batch_statistics_refuse_many_processes_in_one_line(settings, named):
    check_data_parallel(RLConfig(**settings), 1)
    with pytest.raises(StageError, match=f"^rl.algo: .*{named}") as error:
        check_data_parallel(RLConfig(**settings), 2)
    assert "\n" not in str(error.value)


def test_prompts_that_do_not_split_evenly_name_the_param():
    with pytest.raises(StageError, match=r"^rl\.prompts_per_step: 6 does not split over 4 processes"):
        check_data_parallel(RLConfig(prompts_per_step=6), 4)
