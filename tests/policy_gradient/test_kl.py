import math

import pytest
import torch

from stages.policy_gradient.kl import AdaptiveKLController, kl_per_token, sequence_kl


@pytest.mark.parametrize("estimator", ["k1", "k2", "k3"])
def test_every_estimator_is_zero_where_policy_equals_reference(estimator):
    logprobs = torch.log(torch.tensor([[0.2, 0.5, 0.9]]))
    assert kl_per_token(logprobs, logprobs, estimator).abs().max().item() == 0.0


def test_estimators_follow_their_definitions():
    logp, ref = torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)])
    log_r = math.log(0.25) - math.log(0.5)  # log(ref / pi)
    assert kl_per_token(logp, ref, "k1").item() == pytest.approx(-log_r)
    assert kl_per_token(logp, ref, "k2").item() == pytest.approx(0.5 * log_r**2)
    assert kl_per_token(logp, ref, "k3").item() == pytest.approx((0.5 - 1) - log_r)
    with pytest.raises(ValueError, match="unknown KL estimator 'k4'"):
        kl_per_token(logp, ref, "k4")


def test_k1_and_k3_are_unbiased_estimates_of_the_true_kl():
    p = torch.tensor([0.7, 0.2, 0.1])
    q = torch.tensor([0.3, 0.3, 0.4])
    true_kl = float((p * (p / q).log()).sum())
    for estimator in ("k1", "k3"):
        expectation = float((p * kl_per_token(p.log(), q.log(), estimator)).sum())
        assert expectation == pytest.approx(true_kl, rel=1e-5)
    assert kl_per_token(p.log(), q.log(), "k3").min().item() >= 0.0


def test_sequence_kl_sums_over_story_tokens_only():
    logp = torch.tensor([[0.0, -1.0, -2.0]])
    ref = torch.tensor([[-1.0, -1.0, -5.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    assert sequence_kl(logp, ref, mask, "k1").tolist() == [1.0]


def test_adaptive_controller_raises_beta_above_target_and_lowers_it_below_with_clipped_error():
    controller = AdaptiveKLController(0.1, target=6.0, horizon=100)
    assert controller.update(observed_kl=100.0, n_samples=10) == pytest.approx(0.1 * (1 + 0.2 * 10 / 100))
    before = controller.value
    assert controller.update(observed_kl=3.0, n_samples=10) == pytest.approx(before * (1 - 0.2 * 10 / 100))
    before = controller.value
    assert controller.update(observed_kl=6.6, n_samples=50) == pytest.approx(before * (1 + 0.1 * 50 / 100))
