import numpy as np
import pandas as pd

from stages.modeling.linear_reward import fit_linear_reward


def corpus(seed: int, n_prompts: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Prompts of four stories: two with a vivid word and two with a dull one, the vivid
    ones preferred to the dull ones (four pairs a prompt)."""
    rng = np.random.default_rng(seed)
    filler = ["the", "door", "opened", "and", "she", "walked", "into", "night", "rain", "fell"]
    rows, pairs = [], []
    for p in range(n_prompts):
        prompt = f"[WP] the {rng.choice(['dragon', 'ghost', 'robot'])} returns"
        ids = []
        for s, word in enumerate(["shimmering", "luminous", "okay", "fine"]):
            words = [*rng.choice(filler, size=8), word, *rng.choice(filler, size=4)]
            ids.append(f"{seed}-{p}-{s}")
            rows.append({"comment_id": ids[-1], "prompt": prompt, "story": " ".join(words)})
        pairs += [{"chosen_id": ids[c], "rejected_id": ids[r]} for c in (0, 1) for r in (2, 3)]
    return pd.DataFrame(rows), pd.DataFrame(pairs)


def test_it_learns_which_words_the_preferences_favour():
    stories, pairs = corpus(0)
    model = fit_linear_reward(stories, pairs, seed=0)
    held_out, held_out_pairs = corpus(1)
    reward = pd.Series(model.score(held_out["prompt"], held_out["story"]), index=held_out["comment_id"])
    chosen = reward.loc[held_out_pairs["chosen_id"]].to_numpy()
    rejected = reward.loc[held_out_pairs["rejected_id"]].to_numpy()
    assert (chosen > rejected).all()
    vocabulary = model.vectorizer.vocabulary_
    assert model.weights[vocabulary["shimmering"]] > 0 > model.weights[vocabulary["okay"]]


def test_the_prompt_counts_only_through_what_the_story_shares_with_it():
    stories, pairs = corpus(0)
    model = fit_linear_reward(stories, pairs, seed=0)
    story = pd.Series(["the door opened"])
    on_topic = model.score(pd.Series(["[WP] the door"]), story) - model.score(pd.Series(["[WP] a ghost"]), story)
    # The last feature is the prompt-story cosine; nothing else reads the prompt.
    features = model.features(pd.Series(["[WP] the door"]), story).toarray()[0]
    assert features[-1] > 0 and np.isclose(on_topic[0], features[-1] * model.weights[-1])


def test_a_sample_of_pairs_is_fitted_when_there_are_too_many(monkeypatch):
    import stages.modeling.linear_reward as linear_reward

    stories, pairs = corpus(0)
    everything = fit_linear_reward(stories, pairs, seed=0).weights
    monkeypatch.setattr(linear_reward, "MAX_PAIRS", 10)
    sampled = fit_linear_reward(stories, pairs, seed=0).weights
    assert not np.allclose(sampled, everything)  # fewer pairs, another fit
    np.testing.assert_array_equal(sampled, fit_linear_reward(stories, pairs, seed=0).weights)  # the same sample
