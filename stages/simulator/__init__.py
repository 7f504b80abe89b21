"""The simulated subreddit: the world that writes prompts, stories and votes, the
vocabulary and grammar its writers use, and gold, the true quality it scores them by.
"""
