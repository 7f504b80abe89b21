"""Which RL steps split over processes so that N processes take the one-process step.

Each process samples and scores its share of the step's prompts, whole prompts only, so
a prompt's samples (RLOO's and GRPO's groups, SCST's greedy decode) stay together and
their advantages are exactly those one process computes. The likelihood term is the
same on every process (the same reference stories, drawn from the same seed), so its
gradient averages to itself. PPO draws its minibatches within each process's prompts:
every update still sees a global minibatch of the same size, though not grouped as one
process would group it. An estimator whose advantages need statistics of the whole
batch would see only its process's share: those run in one process for now.
"""

from stages.common.config import RLConfig
from stages.common.distributed import require_even_split
from stages.common.errors import StageError


def whole_batch_statistic(config: RLConfig) -> str | None:
    """What, if anything, this estimator computes over the whole batch rather than per prompt."""
    if config.algo == "reinforce":
        return "its baseline (a moving average of the batch's mean reward)"
    if config.algo == "reinforce_pp":
        return "its advantages, whitened over the batch"
    if config.algo == "a2c" or (config.algo == "ppo" and config.ppo_advantage == "gae"):
        return "its value loss, a mean over the batch's tokens"
    if config.algo == "grpo" and config.scale_rewards == "batch":
        return "the batch's reward std (rl.scale_rewards: batch)"
    return None


def check_data_parallel(config: RLConfig, processes: int) -> None:
    """A one-line error when the RL step cannot be split over `processes` as it is set."""
    if processes == 1:
        return
    statistic = whole_batch_statistic(config)
    if statistic is not None:
        raise StageError(
            f"rl.algo: {config.algo} computes {statistic}, which {processes} processes would each see only a "
            "share of; run it in one process (launch.config: null) or use rloo, grpo, scst, ppo (ppo_advantage: "
            "rloo) or dpo"
        )
    if config.algo == "dpo":
        require_even_split(config.dpo_batch_size, processes, "rl.dpo_batch_size")
    else:
        require_even_split(config.prompts_per_step, processes, "rl.prompts_per_step")
