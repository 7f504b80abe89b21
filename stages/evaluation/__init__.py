"""Evaluation against the SFT baseline: decoding both models alike on held-out prompts
(decoding), and the pure comparison of what they wrote (comparison)."""
