"""From raw comments to feedback: which comments are stories (story selection) and the
adjusted-ranking maths (z-scores, tiers, splits, preference pairs, Spearman)."""
