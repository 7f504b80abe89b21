"""Where real stories come from, and the raw store they land in.

Real Reddit through PRAW (client, records, prompt tags, the privacy of authors),
Pushshift-style dumps, the raw store that scrapes merge into, and a local server that
speaks Reddit's API. The simulated subreddit lives apart, in stages/simulator/.
"""
