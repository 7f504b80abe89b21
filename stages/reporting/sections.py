"""The report's sections, from the stages' metrics, curves and samples to blocks.

The order is the reader's: the verdict and the Baseline-vs-finetuned table first
(what a person opening the report wants to know), then the over-optimisation
picture, then each stage from the data on, and the stories last. Numbers are named
as in the metrics files, so a figure here can be found with `dvc metrics show`.
"""

import math
from dataclasses import dataclass

import pandas as pd

from stages.reporting.document import Block, Callout, Figure, Heading, Paragraph, Table
from stages.reporting.figures import Panel, Series, panels_png
from stages.reporting.findings import findings

# The DVCLive curves the report draws, by metric name.
CURVES = (
    "sft/train_loss",
    "sft/val_perplexity",
    "reward/train_loss",
    "reward/val_pairwise_accuracy",
    "rl/reward_mean",
    "rl/kl",
    "rl/eval/reward",
    "rl/eval/gold",
    "rl/eval/kl",
)

DROP_REASONS = {
    "no_reply": "stories without replies, under rank.feedback: replies",
    "reply_orphan": "replies whose parent is not in data/raw",
    "reply_to_non_story": "replies to a reply, a sticky or a dropped story",
    "reply_moderator": "stickied or distinguished replies",
    "reply_deleted": "[deleted] replies",
    "reply_removed": "[removed] replies",
    "reply_by_author": "the story's author answering",
    "reply_empty": "empty replies",
    "reply_no_words": "replies without a word (an emoji, punctuation)",
    "reply_other_language": "replies in another language",
    "stickied": "stickied (AutoModerator's rules)",
    "distinguished": "moderator notes",
    "deleted": "[deleted] bodies",
    "removed": "[removed] bodies",
    "duplicate": "older snapshots of an id scraped twice",
    "too_short": "shorter than rank.min_chars",
    "few_stories": "under prompts with fewer than rank.min_stories stories",
    "orphan": "comments whose submission was not scraped",
}


@dataclass(frozen=True)
class RunSettings:
    """The params that say which run this is (they also head the sweep's table)."""

    algo: str
    alpha: float
    seed: int
    reward_kind: str


@dataclass(frozen=True)
class ReportInputs:
    metrics: dict  # every stage's metrics, flat: scrape/*, rank/*, sft/*, reward/*, rl/*, evaluate/*
    samples: list[dict]  # reports/samples.jsonl
    curves: dict[str, pd.DataFrame | None]  # CURVES' names -> step, value
    run: RunSettings


def number(value, digits: int = 3) -> str:
    """A metric for a table: '-' when missing or not finite; integers as integers."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def share(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def simulated(metrics: dict) -> bool:
    return "evaluate/policy/gold" in metrics


def curve_series(curve: pd.DataFrame | None, label: str, style: str = "-") -> list[Series]:
    return [] if curve is None else [Series(label, curve["step"].tolist(), curve["value"].tolist(), style)]


def policy_label(inputs: ReportInputs) -> str:
    run, metrics = inputs.run, inputs.metrics
    label = f"Finetuned ({run.algo}, alpha {run.alpha:g}, seed {run.seed})"
    if metrics.get("evaluate/rl_diverged"):
        label += f", blew up at step {metrics.get('evaluate/rl_diverged_step')}: its last good policy"
    return label


# ---- the verdict ----------------------------------------------------------------------


def headline(inputs: ReportInputs, distinct_2_drop: float, perplexity_rise: float) -> list[Block]:
    m, run = inputs.metrics, inputs.run
    per_prompt = sum(row["decoding"] == "sample" for row in inputs.samples) // max(m.get("evaluate/prompts") or 1, 1)
    scorer = f"the {run.reward_kind} reward model, in SDs of its train-set rewards"
    gold = "; gold is the simulated subreddit's true quality of a story" if simulated(m) else ""
    blocks: list[Block] = [
        Paragraph(
            f"The RL policy against its SFT baseline on {m['evaluate/prompts']} held-out test prompts, {per_prompt} "
            "sampled stories each plus a greedy decode, both models drawing with the same seed. Reward is "
            f"{scorer}{gold}."
        )
    ]
    blocks += [Callout(f.level, f.title, f.text) for f in findings(m, distinct_2_drop, perplexity_rise)]
    columns = [("avg-reward", "reward"), ("perplexity", "perplexity"), ("KL", "kl"), ("distinct-2", "distinct_2")]
    if simulated(m):
        columns.append(("gold", "gold"))
    rows = []
    for label, model in (("Baseline (SFT)", "sft"), (policy_label(inputs), "policy")):
        values = [0.0 if (model, name) == ("sft", "kl") else m.get(f"evaluate/{model}/{name}") for _, name in columns]
        rows.append(
            [label]
            + [number(v, 2 if name == "perplexity" else 3) for v, (_, name) in zip(values, columns, strict=True)]
        )
    blocks.append(Table([""] + [label for label, _ in columns], rows))
    wins = f"under the reward model {number(m['evaluate/win_rate_reward'], 2)}"
    if simulated(m):
        wins += f", under gold {number(m['evaluate/win_rate_gold'], 2)}"
    blocks.append(
        Paragraph(
            "Win rate of the policy over SFT, story against story on the same prompt and draw (a tie counts half): "
            f"{wins}. "
            "Several seeds and values of alpha side by side: `dvc exp run --queue -S alpha=5,10,20,50,100 -S "
            "rl.seed=0,1,2`, "
            "`dvc exp run --run-all`, then `ahf sweep alpha`."
        )
    )
    figure = overoptimisation_figure(inputs)
    if figure is not None:
        blocks.append(figure)
    return blocks


def overoptimisation_figure(inputs: ReportInputs) -> Figure | None:
    """Proxy reward and gold against KL to SFT: the proxy climbing while gold bends down is over-optimisation."""
    m, curves = inputs.metrics, inputs.curves
    kl = curves.get("rl/eval/kl")
    panels = []
    for name, title in (("reward", "Proxy reward"), ("gold", "Gold quality")):
        curve = curves.get(f"rl/eval/{name}")
        if curve is None or kl is None or f"evaluate/policy/{name}" not in m:
            continue
        joined = kl.merge(curve, on="step", suffixes=("_kl", ""))
        in_loop = Series(
            "in the loop (val prompts), by step",
            joined["value_kl"].tolist(),
            joined["value"].tolist(),
            "o-",
            [str(step) for step in joined["step"]],
        )
        evaluated = Series(
            "evaluate (test prompts): SFT, policy",
            [0.0, m["evaluate/policy/kl"]],
            [m[f"evaluate/sft/{name}"], m[f"evaluate/policy/{name}"]],
            "*",
        )
        panels.append(Panel(f"{title} against KL to SFT", "KL(policy || SFT) per story", name, [in_loop, evaluated]))
    if not panels:
        return None
    return Figure(
        "overoptimisation",
        panels_png(panels),
        "Proxy reward and gold against the policy's KL to SFT. Reward rising while gold bends down is "
        "over-optimisation: the policy exploits the reward model (Gao et al. 2022).",
    )


# ---- the stages, in pipeline order ----------------------------------------------------


def data_section(m: dict) -> list[Block]:
    blocks: list[Block] = [
        Heading("The data"),
        Paragraph(
            f"The scrape holds {number(m.get('scrape/submissions'))} submissions (prompts) and "
            f"{number(m.get('scrape/comments'))} comments. Rank kept {number(m.get('rank/stories'))} stories under "
            f"{number(m.get('rank/submissions'))} prompts: {number(m.get('rank/stories_train'))} train, "
            f"{number(m.get('rank/stories_val'))} val, {number(m.get('rank/stories_test'))} test (split by prompt), "
            "and "
            f"built {number(m.get('rank/pairs'))} preference pairs."
        ),
    ]
    blocks.append(
        Table(
            ["tier", "share of stories"],
            [[tier, share(m.get(f"rank/tier_share_{tier}"))] for tier in ("good", "ok", "bad")],
        )
    )
    dropped = [(reason, m.get(f"rank/dropped_{reason}") or 0) for reason in DROP_REASONS]
    rows = [
        [f"`{reason}`: {DROP_REASONS[reason]}", number(count)]
        for reason, count in sorted(dropped, key=lambda d: -d[1])
        if count
    ]
    if rows:
        blocks += [Paragraph("What rank dropped, and why (`rank/dropped_*`):"), Table(["reason", "comments"], rows)]
    return blocks


# Every signal rank gives Spearman with gold for (stages/ranking/feedback_signals.py), as the table names it.
RANK_SIGNALS = {
    "score": "raw score",
    "rank": "rank within the prompt",
    "zscore": "votes: z-scores of rank and delay (zscore)",
    "model": "votes: fitted delay curve and prompt effects (model)",
    "replies": "replies: shrunk mean sentiment",
    "both": "votes and replies",
}


def ranking_section(m: dict) -> list[Block]:
    if "rank/spearman_gold_score" not in m:
        return []
    rows = [
        [label, number(m.get(f"rank/spearman_gold_{name}")), number(m.get(f"rank/within_spearman_gold_{name}"))]
        for name, label in RANK_SIGNALS.items()
        if f"rank/spearman_gold_{name}" in m
    ]
    votes = max(m.get("rank/spearman_gold_zscore") or -1, m.get("rank/spearman_gold_model") or -1)
    verdict = (
        "It does: de-confounded votes follow gold more closely than the raw score or the rank alone."
        if votes >= max(m.get("rank/spearman_gold_score") or -1, m.get("rank/spearman_gold_rank") or -1)
        else "Not here: a simpler signal follows gold more closely than the de-confounded votes."
    )
    return [
        Heading("Does the adjusted ranking work?"),
        Paragraph(
            "A raw score is confounded by the prompt's popularity and by how late the story came. The table gives "
            "the Spearman "
            f"correlation of each signal with gold, over all stories and within prompts. {verdict} "
            f"{share(m.get('rank/reply_share'))} of stories have replies. Preference pairs "
            "agree "
            f"with gold on {share(m.get('rank/pair_gold_agreement'))} of pairs."
        ),
        Table(["signal", "Spearman with gold", "within prompts"], rows),
    ]


def training_figure(curves: dict, name: str, panels: list[tuple[str, str]], caption: str) -> Figure | None:
    drawn = [
        Panel(title, "step", metric.rsplit("/", 1)[-1], curve_series(curves.get(metric), ""))
        for metric, title in panels
        if curves.get(metric) is not None
    ]
    return Figure(name, panels_png(drawn), caption) if drawn else None


def sft_section(m: dict, curves: dict) -> list[Block]:
    blocks: list[Block] = [
        Heading("SFT: behavior cloning"),
        Paragraph(
            f"{number(m.get('sft/steps'))} steps on {number(m.get('sft/train_stories'))} train stories (best "
            "checkpoint at step "
            f"{number(m.get('sft/best_step'))}). Validation perplexity {number(m.get('sft/val_perplexity'), 2)} "
            "against "
            f"{number(m.get('sft/unigram_val_perplexity'), 2)} for a unigram model of the train stories; test "
            "perplexity "
            f"{number(m.get('sft/test_perplexity'), 2)}."
        ),
    ]
    figure = training_figure(
        curves,
        "sft_training",
        [("sft/train_loss", "SFT train loss"), ("sft/val_perplexity", "SFT validation perplexity")],
        "SFT training: loss per step and validation perplexity at each evaluation.",
    )
    return blocks + ([figure] if figure else [])


def reward_section(m: dict, curves: dict, run: RunSettings) -> list[Block]:
    rows = [
        [f"`{name}`", number(m.get(name))]
        for name in (
            "reward/pairwise_accuracy",
            "reward/tier_accuracy",
            "reward/spearman_adjusted",
            "reward/within_spearman_adjusted",
            "reward/spearman_gold",
            "reward/within_spearman_gold",
        )
        if m.get(name) is not None
    ]
    blocks: list[Block] = [
        Heading(f"Reward model ({run.reward_kind})"),
        Paragraph(
            "Held-out (test) figures. Pairwise accuracy is the share of preference pairs it orders as the adjusted "
            "ranking "
            "does; the Spearman correlations are with the adjusted ranking and, on the simulator, with gold. Other "
            "kinds "
            "side by side: `dvc exp run --queue -S reward.kind=tier,pairwise,listwise`, `dvc exp run --run-all`, then "
            "`ahf sweep reward.kind --metric reward/pairwise_accuracy --metric reward/spearman_gold`."
        ),
        Table(["metric", "value"], rows),
    ]
    figure = training_figure(
        curves,
        "reward_training",
        [
            ("reward/train_loss", "Reward-model train loss"),
            ("reward/val_pairwise_accuracy", "Validation pairwise accuracy"),
        ],
        "Reward-model training: loss per step and validation pairwise accuracy at each evaluation.",
    )
    return blocks + ([figure] if figure else [])


def rl_section(m: dict, curves: dict, run: RunSettings) -> list[Block]:
    outcome = (
        f"blew up at step {m.get('rl/diverged_step')} and kept the policy of the step before"
        if m.get("rl/diverged")
        else f"ran {number(m.get('rl/steps'))} steps"
    )
    blocks: list[Block] = [
        Heading(f"RL ({run.algo}, alpha {run.alpha:g})"),
        Paragraph(
            f"The policy {outcome}, {number(m.get('rl/seconds_per_step'), 2)} s a step. On the fixed val prompts of "
            "the loop: "
            f"reward {number(m.get('rl/sft/reward'))} -> {number(m.get('rl/policy/reward'))}"
            + (
                f", gold {number(m.get('rl/sft/gold'))} -> {number(m.get('rl/policy/gold'))}"
                if "rl/policy/gold" in m
                else ""
            )
            + f", val perplexity {number(m.get('rl/sft/perplexity'), 2)} -> {number(m.get('rl/policy/perplexity'), 2)}."
        ),
    ]
    notes = [(float(m["rl/diverged_step"]), "blew up")] if m.get("rl/diverged") and m.get("rl/diverged_step") else []
    panels = [
        Panel(
            "Reward",
            "step",
            "reward (SD)",
            curve_series(curves.get("rl/reward_mean"), "train batch")
            + curve_series(curves.get("rl/eval/reward"), "val prompts", "o-"),
            notes=notes,
        ),
        Panel(
            "Gold quality", "step", "gold", curve_series(curves.get("rl/eval/gold"), "val prompts", "o-"), notes=notes
        ),
        Panel(
            "KL to SFT",
            "step",
            "KL per story",
            curve_series(curves.get("rl/kl"), "train batch")
            + curve_series(curves.get("rl/eval/kl"), "val prompts", "o-"),
            notes=notes,
        ),
    ]
    drawn = [panel for panel in panels if panel.series]
    if drawn:
        blocks.append(
            Figure(
                "rl_curves",
                panels_png(drawn),
                "RL over steps: reward of each train batch and of the fixed val prompts, their gold, and KL to SFT.",
            )
        )
    return blocks


EVALUATION_ROWS = (
    "reward",
    "gold",
    "gold_std",
    "kl",
    "perplexity",
    "distinct_1",
    "distinct_2",
    "repeated_4gram",
    "mean_words",
)


def evaluation_section(m: dict) -> list[Block]:
    rows = []
    for name in EVALUATION_ROWS:
        cells = [m.get(f"evaluate/{model}/{prefix}{name}") for prefix in ("", "greedy_") for model in ("sft", "policy")]
        if any(cell is not None for cell in cells):
            rows.append(
                [f"`{name}`"] + [number(cell, 2 if name in ("perplexity", "mean_words") else 3) for cell in cells]
            )
    for scorer in ("reward", "gold"):
        if f"evaluate/win_rate_{scorer}" in m:
            rows.append(
                [
                    f"`win_rate_{scorer}`",
                    "",
                    number(m[f"evaluate/win_rate_{scorer}"]),
                    "",
                    number(m.get(f"evaluate/greedy_win_rate_{scorer}")),
                ]
            )
    return [
        Heading("Evaluation in full"),
        Paragraph(
            "Every figure of `reports/metrics.json`: `evaluate/<model>/<name>` for sampled stories, "
            "`evaluate/<model>/greedy_<name>` for the greedy decode; win rates are `evaluate/[greedy_]win_rate_*`. "
            "Perplexity is of the test split's own stories."
        ),
        Table(["name", "SFT", "policy", "SFT greedy", "policy greedy"], rows),
    ]


def sample_scores(row: dict, model: str) -> str:
    gold = f", gold {row[f'{model}_gold']:.3f}" if f"{model}_gold" in row else ""
    return f"reward {row[f'{model}_reward']:.2f}{gold}"


def samples_section(samples: list[dict], count: int) -> list[Block]:
    """The first `count` test prompts' first sampled stories: not picked for looking good."""
    shown = [row for row in samples if row["decoding"] == "sample" and row["sample"] == 0][:count]
    if not shown:
        return []
    blocks: list[Block] = [
        Heading("Samples: SFT | policy"),
        Paragraph(
            f"The first {len(shown)} test prompts (in sorted order, not chosen), the first sampled story of each "
            "model; "
            "all of them are in `reports/samples.jsonl`."
        ),
    ]
    for index, row in enumerate(shown, 1):
        blocks += [
            Paragraph(f"{index}. {row['prompt']}"),
            Table(
                [f"SFT ({sample_scores(row, 'sft')})", f"policy ({sample_scores(row, 'policy')})"],
                [[row["sft_story"], row["policy_story"]]],
                wide_text=True,
            ),
        ]
    return blocks


def report_blocks(inputs: ReportInputs, samples: int, distinct_2_drop: float, perplexity_rise: float) -> list[Block]:
    m, curves = inputs.metrics, inputs.curves
    return (
        headline(inputs, distinct_2_drop, perplexity_rise)
        + data_section(m)
        + ranking_section(m)
        + sft_section(m, curves)
        + reward_section(m, curves, inputs.run)
        + rl_section(m, curves, inputs.run)
        + evaluation_section(m)
        + samples_section(inputs.samples, samples)
    )
