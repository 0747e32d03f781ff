"""A server worker's memory of what every request reads: posts, their all-time totals, video
totals, apps and tokens.

Kept per process and checked once per request (`WorkerMemory.refresh`): engagement data is
forgotten whole whenever the store's data version moves (every applied batch moves it), and
apps and tokens whenever its accounts version moves (approval, revocation...). The versions
are read before anything else, so a remembered value is never older than the version it is
kept under; a value read just after a newer commit may be remembered under the older version,
and the next request sees the new version and forgets it. Only what exists is remembered for
apps and tokens, so creating one needs no version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..spec import METRICS
from .base import AccessToken, App, Post
from .interface import Reads, Store

if TYPE_CHECKING:
    from .replicas import ReadRouter

MAX_POSTS = 100_000  # remembered posts per worker (about 50 MB); then start again
MAX_ACCOUNTS = 10_000  # remembered apps and tokens of each kind
_ALL_CODES = tuple(m.code for m in METRICS)
_WIDTH = max(_ALL_CODES) + 1


class CachedReads(Reads):
    """The engagement reads, with posts, totals and video totals remembered until the data
    version moves. `generation` counts the forgettings: memories built on top of these
    reads (rendered answers) keep it beside what they remember."""

    def __init__(self, store: Reads, max_posts: int = MAX_POSTS) -> None:
        self._store = store
        self._max_posts = max_posts
        self._version: object = None  # the data version (with the replica's URL, if any)
        self.generation = 0
        self._forget()

    def sync(self, version: object) -> None:
        """Forget everything if the data version is not the one remembered under."""
        if version != self._version:
            self._forget()
            self._version = version

    def data_version(self) -> int:
        return self._store.data_version()

    def get_posts(self, ids: Sequence[int]) -> dict[int, Post]:
        posts = self._posts
        missing = [i for i in ids if i not in posts]
        if missing:
            if self._room_for(len(missing)):
                posts = self._posts  # forgotten: every id is missing now
                missing = list(dict.fromkeys(ids))
            found = self._store.get_posts(missing)
            posts.update((i, found.get(i)) for i in missing)  # None: not stored
        return {i: post for i in ids if (post := posts[i]) is not None}

    def read_totals(
        self, post_ids: Sequence[int], metric_codes: Sequence[int]
    ) -> dict[tuple[int, int], int]:
        totals = self._totals
        missing = [p for p in dict.fromkeys(post_ids) if p not in totals]
        if missing:
            if self._room_for(len(missing)):
                totals = self._totals
                missing = list(dict.fromkeys(post_ids))
            for post_id in missing:
                totals[post_id] = [None] * _WIDTH
            for (post_id, code), count in self._store.read_totals(missing, _ALL_CODES).items():
                totals[post_id][code] = count
        return {
            (post_id, code): count
            for post_id in post_ids
            for code in metric_codes
            if (count := totals[post_id][code]) is not None
        }

    def read_video_totals(self, video_ids: Iterable[str]) -> dict[str, int]:
        wanted = list(dict.fromkeys(video_ids))
        videos = self._videos
        missing = [v for v in wanted if v not in videos]
        if missing:
            if len(videos) + len(missing) > self._max_posts:
                videos.clear()
                missing = wanted
            found = self._store.read_video_totals(missing)
            videos.update((v, found.get(v)) for v in missing)
        return {v: count for v in wanted if (count := videos[v]) is not None}

    def read_hourly(
        self, post_ids: Sequence[int], metric_codes: Sequence[int], start_hour: int, end_hour: int
    ) -> list[tuple[int, int, int, int]]:
        return self._store.read_hourly(post_ids, metric_codes, start_hour, end_hour)

    def latest_event_hour(self) -> int | None:
        if self._latest_hour is _UNKNOWN:
            self._latest_hour = self._store.latest_event_hour()
        return self._latest_hour

    def read_counts_since(
        self, post_ids: Sequence[int], metric_codes: Sequence[int], from_hour: int
    ) -> dict[tuple[int, int], int]:
        return self._store.read_counts_since(post_ids, metric_codes, from_hour)

    def read_video_counts_since(self, video_ids: Iterable[str], from_hour: int) -> dict[str, int]:
        return self._store.read_video_counts_since(video_ids, from_hour)

    def _room_for(self, more: int) -> bool:
        """Make room for `more` posts; True when that meant forgetting everything."""
        if max(len(self._posts), len(self._totals)) + more <= self._max_posts:
            return False
        self._forget()
        return True

    def _forget(self) -> None:
        self._posts: dict[int, Post | None] = {}
        self._totals: dict[int, list[int | None]] = {}
        self._videos: dict[str, int | None] = {}
        self._latest_hour: object = _UNKNOWN
        self.generation += 1


class CachedAccounts:
    """Apps and tokens as authentication reads them, remembered until the accounts version
    moves. Unknown keys and tokens are asked of the store every time."""

    def __init__(self, store: Store, max_entries: int = MAX_ACCOUNTS) -> None:
        self._store = store
        self._max = max_entries
        self._version: int | None = None
        self._forget()

    def sync(self, version: int) -> None:
        if version != self._version:
            self._forget()
            self._version = version

    def get_app(self, app_id: int) -> App | None:
        return self._remember(self._apps, app_id, self._store.get_app)

    def get_app_by_key(self, consumer_key: str) -> App | None:
        return self._remember(self._apps_by_key, consumer_key, self._store.get_app_by_key)

    def get_access_token(self, token: str) -> AccessToken | None:
        return self._remember(self._tokens, token, self._store.get_access_token)

    def bearer_token_app(self, token_hash: str) -> int | None:
        return self._remember(self._bearers, token_hash, self._store.bearer_token_app)

    def admin_token_valid(self, token_hash: str) -> bool:
        return bool(self._remember(self._admins, token_hash, self._admin_or_none))

    def _admin_or_none(self, token_hash: str) -> bool | None:
        return True if self._store.admin_token_valid(token_hash) else None

    def _remember(self, memory: dict, key, read):
        found = memory.get(key)
        if found is None:
            found = read(key)
            if found is not None:
                if len(memory) >= self._max:
                    memory.clear()
                memory[key] = found
        return found

    def _forget(self) -> None:
        self._apps: dict[int, App] = {}
        self._apps_by_key: dict[str, App] = {}
        self._tokens: dict[str, AccessToken] = {}
        self._bearers: dict[str, int] = {}
        self._admins: dict[str, bool] = {}


class WorkerMemory:
    """Both memories of one worker over one store, brought up to date once per request.

    With read replicas (`router`), the engagement reads are remembered under (the replica that
    answers, its data version): a switch to another replica, or to the primary, forgets them.
    Apps and tokens are always the primary's."""

    def __init__(
        self, store: Store, max_posts: int = MAX_POSTS, router: ReadRouter | None = None
    ) -> None:
        self.store = store
        self.router = router
        self.reads = CachedReads(router or store, max_posts)
        self.accounts = CachedAccounts(store)
        self._marker: object = None

    def refresh(self) -> None:
        marker = self.store.changes()
        if marker != self._marker:
            data, accounts = self.store.versions()
            if self.router is None:
                self.reads.sync(data)
            self.accounts.sync(accounts)
            self._marker = marker
        if self.router is not None:
            self.reads.sync(self.router.version())


_UNKNOWN = object()
