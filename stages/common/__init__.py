"""Plumbing every stage shares: typed params, atomic output writes, where outputs live,
data contracts and loaders, progress bars, retries, and the one-line StageError."""
