"""The reads of the engagement endpoints, written once for both engines: each engine says only
how a list of values is matched (`_in_lists`: SQLite `IN (?, ...)` in chunks, PostgreSQL one
`= ANY(?::type[])`), as Synapse's `make_in_list_sql_clause` does."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .. import spec
from .base import Post

POST_COLUMNS = "id, author_id, created_ms, protected, deleted, video_id"


def post_of(row) -> Post:
    """A `posts` row read as POST_COLUMNS (SQLite keeps the flags as 0/1: answered as bools)."""
    return Post(row[0], row[1], row[2], bool(row[3]), bool(row[4]), row[5])


class SqlReads:
    """Mixed into `SqlStore`: uses its `_lock`, `_db` and `_q`."""

    _db: Any

    def _in_lists(self, column: str, values: Sequence, sql_type: str) -> Iterator[tuple[str, list]]:
        """(`column` matched against a slice of `values`, its arguments), slice after slice
        until all are matched; `sql_type` the values' SQL type ("bigint", "smallint", "text")."""
        raise NotImplementedError

    def _in_list(self, column: str, values: Sequence, sql_type: str) -> tuple[str, list]:
        """One clause for a short list (a query's metrics)."""
        if not values:
            return "1 = 0", []
        ((clause, args),) = self._in_lists(column, values, sql_type)
        return clause, args

    def _rows(
        self, sql: str, column: str, values: Sequence, sql_type: str, before=(), after=()
    ) -> Iterator[tuple]:
        """The rows of `sql`, `{ids}` in it replaced by `column` matched against `values`, slice
        after slice; `before` and `after` the arguments around the in-list's."""
        with self._lock:
            for clause, args in self._in_lists(column, values, sql_type):
                yield from self._db.execute(
                    self._q(sql.format(ids=clause)), (*before, *args, *after)
                ).fetchall()

    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        rows = self._rows(
            f"SELECT {POST_COLUMNS} FROM posts WHERE {{ids}}", "id", list(ids), "bigint"
        )
        return {row[0]: post_of(row) for row in rows}

    def recent_posts(self, limit: int, author_id: int | None = None) -> list[Post]:
        where, args = ("WHERE author_id=?", (author_id, limit)) if author_id else ("", (limit,))
        with self._lock:
            rows = self._db.execute(
                self._q(f"SELECT {POST_COLUMNS} FROM posts {where} ORDER BY id DESC LIMIT ?"), args
            ).fetchall()
        return [post_of(row) for row in rows]

    def read_totals(
        self, post_ids: Sequence[int], metric_codes: Sequence[int]
    ) -> dict[tuple[int, int], int]:
        # One range scan per post beats one seek per (post, metric) pair: filter here.
        wanted = set(metric_codes)
        rows = self._rows(
            "SELECT post_id, metric, count FROM post_totals WHERE {ids} AND metric BETWEEN ? AND ?",
            "post_id",
            list(post_ids),
            "bigint",
            after=(min(wanted), max(wanted)),
        )
        return {(p, m): n for p, m, n in rows if m in wanted}

    def read_video_totals(self, video_ids: Iterable[str]) -> dict[str, int]:
        videos = list(dict.fromkeys(video_ids))
        rows = self._rows(
            "SELECT video_id, count FROM video_totals WHERE {ids}", "video_id", videos, "text"
        )
        return dict(rows)

    def read_hourly(
        self, post_ids: Sequence[int], metric_codes: Sequence[int], start_hour: int, end_hour: int
    ) -> list[tuple[int, int, int, int]]:
        metrics, metric_args = self._in_list("metric", list(metric_codes), "smallint")
        return list(
            self._rows(
                "SELECT post_id, metric, hour, count FROM post_hourly "
                f"WHERE {{ids}} AND {metrics} AND hour >= ? AND hour < ?",
                "post_id",
                list(post_ids),
                "bigint",
                after=(*metric_args, start_hour, end_hour),
            )
        )

    def read_counts_since(
        self, post_ids: Sequence[int], metric_codes: Sequence[int], from_hour: int
    ) -> dict[tuple[int, int], int]:
        metrics, metric_args = self._in_list("metric", list(metric_codes), "smallint")
        rows = self._rows(
            "SELECT post_id, metric, CAST(sum(count) AS BIGINT) FROM post_hourly "
            f"WHERE {{ids}} AND {metrics} AND hour >= ? GROUP BY post_id, metric",
            "post_id",
            list(post_ids),
            "bigint",
            after=(*metric_args, from_hour),
        )
        return {(p, m): n for p, m, n in rows}

    def read_video_counts_since(self, video_ids: Iterable[str], from_hour: int) -> dict[str, int]:
        rows = self._rows(
            "SELECT p.video_id, CAST(sum(h.count) AS BIGINT) FROM posts p JOIN post_hourly h "
            "ON h.post_id = p.id AND h.metric = ? AND h.hour >= ? "
            "WHERE {ids} GROUP BY p.video_id",
            "p.video_id",
            list(dict.fromkeys(video_ids)),
            "text",
            before=(spec.VIDEO_VIEWS.code, from_hour),
        )
        return dict(rows)
