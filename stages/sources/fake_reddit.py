"""A local HTTP server that speaks the part of Reddit's API that PRAW uses to scrape.

It serves a subreddit (the simulated one, or any frames of the raw contract) so that
the real PRAW client can be tested, timed and tried without Reddit:

- POST /api/v1/access_token: an app-only OAuth token, for the right client id/secret;
- GET /r/<name>/{top,new,hot}: pages of at most 100 submissions chained by `after`,
  cut near 1,000 like Reddit's listings; `t` filters top by age;
- GET /comments/<id>: [the submission, its comment tree], where only the first few
  stories are shown and the rest hide behind a `more` object;
- POST /api/morechildren: a few of the hidden comments per call, plus a new `more`
  for the rest, so PRAW's replace_more has to loop;
- x-ratelimit-* headers on every answer, which prawcore paces itself by.

Faults are injected by request number (the token request is number 1): an HTTP
status instead of the answer (429, 500, ...), an answer slower than the client's
timeout, a body cut off halfway, or silence from some request on, as from a server
that died mid-scrape; at a rate, a 429, 500 or 503 drawn for each request number from
a seed, as from a Reddit under load; or a 503 for every request of one path, as from
a thread Reddit cannot serve. Every 429 says Retry-After.

Big threads are the simulator's (simulate.stories_per_prompt), served `more_batch`
comments per morechildren call, so expanding one takes hundreds of requests.
"""

import base64
import json
import math
import random
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from stages.common.config import SimulateConfig
from stages.simulator.simulator import simulate_subreddit
from stages.sources.raw_store import latest_snapshots

PAGE_SIZE = 100  # Reddit's most per listing page, whatever `limit` asks
LISTING_CAP = 1000  # Reddit's listings end near here: why scrapes are incremental
RATE_WINDOW_S = 600
TIME_FILTER_S = {"hour": 3600, "day": 86_400, "week": 7 * 86_400, "month": 30 * 86_400, "year": 365 * 86_400}
TOKEN = "fake-reddit-token"
FAULT_STATUSES = (429, 500, 503)


@dataclass
class Faults:
    status_at: dict[int, int] = field(default_factory=dict)  # request number -> HTTP status
    slow_at: set[int] = field(default_factory=set)  # request numbers answered after slow_s
    slow_s: float = 2.0
    silent_from: int | None = None  # from this request number on, hang up without answering
    delay_s: float = 0.0  # before every answer: a healthy but distant server
    rate: float = 0.0  # share of requests answered with one of FAULT_STATUSES
    seed: int = 0  # the draw is per request number, so the same requests meet the same faults
    retry_after_s: int = 1  # the Retry-After of every 429
    broken_path: str | None = None  # every request for it answered 503, as a thread Reddit cannot serve
    cut_at: set[int] = field(default_factory=set)  # request numbers whose body stops halfway

    def status_for(self, number: int, path: str) -> int | None:
        """The HTTP status that request `number` gets instead of its answer, if any."""
        if self.broken_path is not None and path.rstrip("/") == self.broken_path.rstrip("/"):
            return 503
        if number in self.status_at:
            return self.status_at[number]
        draw = random.Random(f"{self.seed}:{number}")
        return draw.choice(FAULT_STATUSES) if draw.random() < self.rate else None


def present(value: object) -> object:
    """A frame's missing value (None or NaN) as JSON's null."""
    return None if pd.isna(value) else value


def author_name(simulated_hash: str | None) -> str:
    """The simulator stores only hashed names; the server shows them as usernames."""
    return "[deleted]" if present(simulated_hash) is None else f"u_{simulated_hash}"


def hot_order_key(score: int, created_utc: int) -> float:
    """Reddit's published hot formula: log-score plus recency, 12.5 hours per tenfold."""
    return math.copysign(math.log10(max(abs(score), 1)), score) + (created_utc - 1134028003) / 45000


def listing_json(children: list[dict], after: str | None = None) -> dict:
    return {"kind": "Listing", "data": {"after": after, "before": None, "dist": len(children), "children": children}}


def submission_json(row: dict) -> dict:
    return {
        "kind": "t3",
        "data": {
            "id": row["id"],
            "name": f"t3_{row['id']}",
            "subreddit": row["subreddit"],
            "subreddit_name_prefixed": f"r/{row['subreddit']}",
            "title": row["title"],
            "selftext": row["selftext"],
            "is_self": True,
            "score": int(row["score"]),
            "ups": int(row["score"]),
            "num_comments": int(row["num_comments"]),
            "created_utc": float(row["created_utc"]),
            "author": author_name(row["author_hash"]),
            "permalink": row["permalink"],
            "url": f"https://www.reddit.com{row['permalink']}",
            "stickied": bool(row.get("stickied", False)),
            "distinguished": None,
            "over_18": False,
        },
    }


def comment_json(row: dict, replies: list[dict] | None = None, depth: int = 0) -> dict:
    return {
        "kind": "t1",
        "data": {
            "id": row["id"],
            "name": f"t1_{row['id']}",
            "link_id": f"t3_{row['submission_id']}",
            "parent_id": row["parent_id"],
            "body": row["body"],
            "score": int(row["score"]),
            "ups": int(row["score"]),
            "created_utc": float(row["created_utc"]),
            "author": author_name(row["author_hash"]),
            "stickied": bool(row["stickied"]),
            "distinguished": present(row["distinguished"]),
            "depth": depth,
            "replies": listing_json(replies) if replies else "",
        },
    }


def more_json(parent_id: str, child_ids: list[str], depth: int = 0) -> dict:
    return {
        "kind": "more",
        "data": {
            "count": len(child_ids),
            "name": f"t1_{child_ids[0]}",
            "id": child_ids[0],
            "parent_id": parent_id,
            "depth": depth,
            "children": child_ids,
        },
    }


class SubredditContent:
    """What the server shows: the newest snapshot of each id, trees built once."""

    def __init__(
        self, subreddit: str, submissions: pd.DataFrame, comments: pd.DataFrame, stories_shown: int, more_batch: int
    ):
        self.subreddit = subreddit
        self.submissions, self.comments = latest_snapshots(submissions), latest_snapshots(comments)
        self.stories_shown, self.more_batch = stories_shown, more_batch
        self.submission_rows = {row["id"]: row for row in self.submissions.to_dict("records")}
        by_score = self.comments.sort_values(["score", "id"], ascending=[False, True], kind="stable")
        self.comment_rows = {row["id"]: row for row in by_score.to_dict("records")}
        self.children: dict[str, list[str]] = {}  # parent fullname -> child ids, best first
        for row in self.comment_rows.values():
            self.children.setdefault(row["parent_id"], []).append(row["id"])
        self.now_utc = int(self.submissions["created_utc"].max()) if len(self.submissions) else 0

    def ordered_ids(self, sort: str, time_filter: str) -> list[str]:
        rows = self.submissions
        if sort == "top" and time_filter in TIME_FILTER_S:
            # "Now" is the newest prompt's time, so a simulated past still has a last week.
            rows = rows[rows["created_utc"] > self.now_utc - TIME_FILTER_S[time_filter]]
        if sort == "top":
            rows = rows.sort_values(["score", "id"], ascending=[False, True], kind="stable")
        elif sort == "new":
            rows = rows.sort_values(["created_utc", "id"], ascending=[False, True], kind="stable")
        else:
            keys = [hot_order_key(s, c) for s, c in zip(rows["score"], rows["created_utc"], strict=True)]
            rows = rows.assign(hot=keys).sort_values(["hot", "id"], ascending=[False, True], kind="stable")
        return list(rows["id"][:LISTING_CAP])

    def listing_page(self, sort: str, time_filter: str, limit: int, after: str | None) -> dict:
        ids = self.ordered_ids(sort, time_filter)
        start = 0
        if after:
            after_id = after.removeprefix("t3_")
            start = ids.index(after_id) + 1 if after_id in ids else len(ids)
        page = ids[start : start + min(limit, PAGE_SIZE)]
        more_left = start + len(page) < len(ids)
        children = [submission_json(self.submission_rows[i]) for i in page]
        return listing_json(children, after=f"t3_{page[-1]}" if page and more_left else None)

    def subtree(self, comment_id: str, depth: int) -> dict:
        replies = [self.subtree(child, depth + 1) for child in self.children.get(f"t1_{comment_id}", [])]
        return comment_json(self.comment_rows[comment_id], replies, depth)

    def descendants(self, comment_id: str) -> list[str]:
        """The comment and every reply under it, parents before children."""
        ids = [comment_id]
        for child in self.children.get(f"t1_{comment_id}", []):
            ids += self.descendants(child)
        return ids

    def comment_page(self, submission_id: str) -> list[dict]:
        stories = self.children.get(f"t3_{submission_id}", [])
        tree = [self.subtree(story, 0) for story in stories[: self.stories_shown]]
        hidden = [i for story in stories[self.stories_shown :] for i in self.descendants(story)]
        if hidden:
            tree.append(more_json(f"t3_{submission_id}", hidden))
        submission = listing_json([submission_json(self.submission_rows[submission_id])])
        return [submission, listing_json(tree)]

    def more_children(self, link_id: str, child_ids: list[str]) -> dict:
        known = [i for i in child_ids if i in self.comment_rows]
        things = [comment_json(self.comment_rows[i]) for i in known[: self.more_batch]]
        if rest := known[self.more_batch :]:
            things.append(more_json(link_id, rest))
        return {"json": {"errors": [], "data": {"things": things}}}


class FakeReddit:
    """Serve a subreddit on 127.0.0.1; `with FakeReddit(...) as server:` runs it in a thread."""

    def __init__(
        self,
        subreddit: str,
        submissions: pd.DataFrame,
        comments: pd.DataFrame,
        *,
        client_id: str = "ahf-fake",
        client_secret: str = "ahf-fake-secret",
        host: str = "127.0.0.1",
        port: int = 0,
        stories_shown: int = 5,
        more_batch: int = 4,
        quota: int = 1_000_000,
    ):
        self.content = SubredditContent(subreddit, submissions, comments, stories_shown, more_batch)
        self.credentials = (client_id, client_secret)
        self.quota = quota  # requests granted per 10-minute window; Reddit grants about 1,000
        self.faults = Faults()
        self.requests: list[str] = []  # "GET /r/WritingPrompts/top", in the order they came
        self.injected: Counter[int] = Counter()  # HTTP status -> faults of that status answered
        self.lock = threading.Lock()
        self.window_start, self.window_used = time.monotonic(), 0
        self.http = QuietHTTPServer((host, port), RedditRequestHandler)
        self.http.fake_reddit = self  # type: ignore[attr-defined]
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.http.server_address[:2]
        return f"http://{host}:{port}"

    def praw_ini_site(self, site: str) -> str:
        """A praw.ini section pointing PRAW at this server with its credentials."""
        return (
            f"[{site}]\noauth_url = {self.url}\nreddit_url = {self.url}\n"
            f"client_id = {self.credentials[0]}\nclient_secret = {self.credentials[1]}\n"
            "user_agent = ahf fake-reddit client\n"
        )

    def __enter__(self) -> "FakeReddit":
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.shutdown()
        self.http.server_close()

    def serve_forever(self) -> None:
        try:
            self.http.serve_forever()
        finally:
            self.http.server_close()

    def count_request(self, line: str) -> int:
        with self.lock:
            if time.monotonic() - self.window_start >= RATE_WINDOW_S:
                self.window_start, self.window_used = time.monotonic(), 0
            self.window_used += 1
            self.requests.append(line)
            return len(self.requests)

    def count_fault(self, status: int) -> None:
        with self.lock:
            self.injected[status] += 1

    def tally(self) -> str:
        """What the server answered, for its last words."""
        faults = ", ".join(f"{count} x {status}" for status, count in sorted(self.injected.items()))
        return (
            f"{len(self.requests)} requests, {self.injected.total()} faults injected{f' ({faults})' if faults else ''}"
        )

    def rate_limit_headers(self) -> dict[str, str]:
        with self.lock:
            elapsed, used = time.monotonic() - self.window_start, self.window_used
        return {
            "x-ratelimit-used": str(used),
            "x-ratelimit-remaining": f"{max(self.quota - used, 0):.1f}",
            "x-ratelimit-reset": str(int(RATE_WINDOW_S - elapsed)),
        }


def simulated_reddit(config: SimulateConfig, subreddit: str, **options) -> FakeReddit:
    """The server for the simulated subreddit that `ahf scrape` would simulate."""
    submissions, comments = simulate_subreddit(config, subreddit)
    return FakeReddit(subreddit, submissions, comments, **options)


class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up (after its timeout, or killed) is routine here, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class RedditRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as PRAW's requests session expects
    disable_nagle_algorithm = True  # else headers and body wait 40 ms on the client's delayed ACK
    server_version = "fake-reddit"
    LISTING = re.compile(r"/r/(?P<subreddit>[^/]+)/(?P<sort>top|new|hot)/?")
    COMMENTS = re.compile(r"/comments/(?P<id>[0-9a-z]+)/?")

    @property
    def reddit(self) -> FakeReddit:
        return self.server.fake_reddit  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read `requests`, and a terminal needs no access log."""

    def do_GET(self) -> None:
        self.answer("GET")

    def do_POST(self) -> None:
        self.answer("POST")

    def answer(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        form = {key: values[-1] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
        number = self.reddit.count_request(f"{method} {url.path}")
        faults = self.reddit.faults
        if faults.silent_from is not None and number >= faults.silent_from:
            self.close_connection = True
            return
        time.sleep(faults.delay_s + (faults.slow_s if number in faults.slow_at else 0.0))
        if status := faults.status_for(number, url.path):
            self.reddit.count_fault(status)
            retry_after = {"Retry-After": str(faults.retry_after_s)} if status == 429 else {}
            self.send_json(status, {"message": HTTPStatus(status).phrase, "error": status}, retry_after)
            return
        status, body = self.route(method, url.path, query, form)
        self.send_json(status, body, cut=number in faults.cut_at)

    def route(self, method: str, path: str, query: dict, form: dict) -> tuple[int, object]:
        content = self.reddit.content
        if method == "POST" and path.rstrip("/") == "/api/v1/access_token":
            return self.token()
        if self.headers.get("Authorization") != f"bearer {TOKEN}":
            return 401, {"message": "Unauthorized", "error": 401}
        if (
            method == "GET"
            and (match := self.LISTING.fullmatch(path))
            and match["subreddit"].lower() == content.subreddit.lower()
        ):
            limit = int(query.get("limit", 25))
            return 200, content.listing_page(match["sort"], query.get("t", "all"), limit, query.get("after"))
        if method == "GET" and (match := self.COMMENTS.fullmatch(path)) and match["id"] in content.submission_rows:
            return 200, content.comment_page(match["id"])
        if method == "POST" and path.rstrip("/") == "/api/morechildren":
            return 200, content.more_children(form.get("link_id", ""), form.get("children", "").split(","))
        return 404, {"message": "Not Found", "error": 404}

    def token(self) -> tuple[int, object]:
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            client_id = secret = ""
        if scheme.lower() != "basic" or (client_id, secret) != self.reddit.credentials:
            return 401, {"message": "Unauthorized", "error": 401}
        return 200, {"access_token": TOKEN, "token_type": "bearer", "expires_in": 86400, "scope": "*"}

    def send_json(self, status: int, body: object, headers: dict[str, str] | None = None, cut: bool = False) -> None:
        """Answer with `body` as JSON; `cut`: only its first half, then hang up, as a dropped connection."""
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            if self.close_connection:
                # The request asked to close (prawcore's token requests do). An HTTP/1.1
                # server that closes says so; without it the client pools the connection and
                # its next request can race the close (RemoteDisconnected, then a retry).
                self.send_header("Connection", "close")
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (self.reddit.rate_limit_headers() | (headers or {})).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2] if cut else payload)
            self.close_connection = self.close_connection or cut
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a timeout fault)
