"""Ingest through the command line: formats, rejections, replays, nothing half-applied."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from helpers import NOW, event, post

from engagement_api.cli import main
from engagement_api.clock import FrozenClock
from engagement_api.ids import snowflake_ms
from engagement_api.ingest import ingest_source
from engagement_api.ingest.records import RECORD_FIELDS
from engagement_api.spec import METRIC_BY_NAME
from engagement_api.store import open_store
from engagement_api.times import parse_instant

P1, P2 = 1260294888811347969, 850006245121695744
FIELDS = list(RECORD_FIELDS)


def sample_records() -> list[dict]:
    return [
        post(P1, 2244994945, "XDevelopers", video_id="v1"),
        post(P2, 2244994945, "XDevelopers", "2017-04-06T15:00:00Z"),
        event(P1, "favorites", "2020-05-12T20:01:00Z"),
        event(P1, "favorites", "2020-05-12T20:31:00Z", 4, promoted=True),
        event(P1, "impressions", "2020-05-12T20:01:00Z", 10, promoted=False),
        event(P1, "impressions", "2020-05-12T20:01:00Z", 5, promoted=True),
        event(P2, "retweets", "2017-04-07T00:00:00Z", 3),
        event(P2, "other", "2017-04-07T00:00:00Z", 2),
        event(P2, "video_views", "2017-04-07T00:00:00Z", 9),
    ]


def write_ndjson(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def write_csv(path, records):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for record in records:
            writer.writerow(
                {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in record.items()}
            )
    return path


def write_parquet(path, records):
    columns = {name: [r.get(name) for r in records] for name in FIELDS}
    pq.write_table(pa.table(columns), path)
    return path


def run(store_url, *args, input=None):
    result = CliRunner().invoke(main, ["--store", store_url, "--now", NOW, *args], input=input)
    return result


def totals(url):
    with open_store(url) as store:
        rows = store.read_totals([P1, P2], [m.code for m in METRIC_BY_NAME.values()])
        return {(p, code): n for (p, code), n in rows.items()}


def code(name):
    return METRIC_BY_NAME[name].code


EXPECTED = {
    (P1, code("favorites")): 5,
    (P1, code("impressions")): 10,
    (P1, code("engagements")): 5,
    (P2, code("retweets")): 3,
    (P2, code("engagements")): 5,
    (P2, code("video_views")): 9,
}


@pytest.mark.parametrize(
    "writer,suffix", [(write_ndjson, "ndjson"), (write_csv, "csv"), (write_parquet, "parquet")]
)
def test_every_format_ingests_the_same_counts(store_url, tmp_path, writer, suffix):
    url = store_url
    path = writer(tmp_path / f"data.{suffix}", sample_records())
    result = run(url, "ingest", str(path))
    assert result.exit_code == 0, result.output + result.stderr
    assert "9 records read: 2 posts, 7 events, 0 rejected, 0 already ingested" in result.output
    assert totals(url) == EXPECTED
    with open_store(url) as store:
        posts = store.get_posts([P1, P2])
        assert posts[P1].created_ms == snowflake_ms(P1)  # derived from the snowflake
        assert posts[P2].created_ms == int(parse_instant("2017-04-06T15:00:00Z") * 1000)
        assert posts[P1].video_id == "v1"
        assert store.find_user("@xdevelopers").id == 2244994945


def test_gzip_and_stdin(store_url, tmp_path):
    url = store_url
    gz = tmp_path / "data.ndjson.gz"
    gz.write_bytes(
        gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in sample_records()[:4]))
    )
    assert run(url, "ingest", str(gz)).exit_code == 0
    rest = "".join(json.dumps(r) + "\n" for r in sample_records()[4:])
    result = run(url, "ingest", "-", input=rest)
    assert result.exit_code == 0, result.stderr
    assert totals(url) == EXPECTED


def test_replaying_a_file_counts_nothing_twice(store_url, tmp_path):
    url = store_url
    path = write_ndjson(tmp_path / "data.ndjson", sample_records())
    assert run(url, "ingest", str(path)).exit_code == 0
    again = run(url, "ingest", str(path))
    assert again.exit_code == 0
    assert "0 events, 0 rejected, 9 already ingested" in again.output
    assert totals(url) == EXPECTED


def test_an_interrupted_ingest_resumes_chunk_by_chunk(store_url, tmp_path):
    url = store_url
    path = write_ndjson(tmp_path / "data.ndjson", sample_records())
    clock = FrozenClock(parse_instant(NOW))

    class Interrupted(Exception):
        pass

    def stop_after_first_chunk(position):
        raise Interrupted

    with open_store(url) as store:
        with pytest.raises(Interrupted):
            ingest_source(
                store, str(path), clock, on_progress=stop_after_first_chunk, chunk_records=4
            )
        assert store.read_totals([P1], [code("favorites")]) == {(P1, code("favorites")): 5}
        resumed = ingest_source(store, str(path), clock, chunk_records=4)
        assert (resumed.already_ingested, resumed.events) == (4, 5)
        again = ingest_source(store, str(path), clock, chunk_records=4)
        assert (again.events, again.already_ingested) == (0, 9)
    assert totals(url) == EXPECTED


def cross_chunk_records() -> list[dict]:
    """Posts and events spread over many chunks; a later record moves a post's creation."""
    ids = [P1 + n for n in range(6)]
    records = [post(i, 2244994945, "XDevelopers", "2020-05-12T19:00:00Z") for i in ids[:3]]
    for hour in range(20, 24):
        records += [event(i, "favorites", f"2020-05-12T{hour}:05:00Z") for i in ids[:3]]
    records += [post(i, 2244994945, "XDevelopers", "2020-05-12T19:00:00Z") for i in ids[3:]]
    records += [event(i, "replies", "2020-05-12T21:00:00Z", 2) for i in ids]
    records.append(post(ids[0], 2244994945, "XDevelopers", "2020-05-12T22:00:00Z"))
    records += [event(i, "retweets", "2020-05-12T21:30:00Z") for i in ids]  # ids[0]: too early
    records += [event(i, "retweets", "2020-05-12T23:30:00Z") for i in ids]
    return records


@pytest.mark.parametrize("chunk_records", [1, 2, 5])
def test_chunks_find_posts_of_earlier_chunks_committed_or_not(
    store_url, tmp_path, monkeypatch, chunk_records
):
    path = write_ndjson(tmp_path / "data.ndjson", cross_chunk_records())
    clock = FrozenClock(parse_instant(NOW))
    ids = [P1 + n for n in range(6)]
    codes = [code(m) for m in ("favorites", "replies", "retweets", "engagements")]
    with open_store(f"sqlite:///{tmp_path / 'whole.db'}") as whole:
        reference = ingest_source(whole, str(path), clock)
        expected = whole.read_totals(ids, codes)
    assert reference.rejected == 1
    monkeypatch.setattr("engagement_api.ingest.known.INDEX_LIMIT", 2)  # starts again often
    with open_store(store_url) as store:
        rejected: list[tuple[int, str]] = []
        summary = ingest_source(
            store,
            str(path),
            clock,
            on_reject=lambda *r: rejected.append(r),
            chunk_records=chunk_records,
        )
        assert store.read_totals(ids, codes) == expected
    assert (summary.posts, summary.events, summary.rejected) == (7, 29, 1)
    assert rejected == [
        (26, f"at 2020-05-12T21:30:00Z is before post {P1} was created (2020-05-12T22:00:00Z)")
    ]


def test_fields_the_first_record_of_a_file_lacks_still_count(store_url, tmp_path):
    posts = write_ndjson(tmp_path / "posts.ndjson", [post(P1, 2244994945, "XDevelopers")])
    first = event(P1, "favorites", "2020-05-12T20:01:00Z")
    del first["count"]  # one, organic: neither field given
    events = write_ndjson(
        tmp_path / "events.ndjson",
        [
            first,
            event(P1, "favorites", "2020-05-12T20:31:00Z", 4),
            event(P1, "impressions", "2020-05-12T20:01:00Z", 5, promoted=True),
        ],
    )
    for path in (posts, events):
        assert run(store_url, "ingest", str(path)).exit_code == 0
    assert totals(store_url) == {(P1, code("favorites")): 5, (P1, code("engagements")): 5}


def test_a_null_count_is_refused_as_on_the_record_path(store_url, tmp_path):
    """A `"count": null` is not an absent count: refused with its reason, whichever record
    of the chunk lacks the field."""
    posts = write_ndjson(tmp_path / "posts.ndjson", [post(P1, 2244994945, "XDevelopers")])
    lacking = event(P1, "favorites", "2020-05-12T20:01:00Z")
    del lacking["count"]
    null = {**event(P1, "favorites", "2020-05-12T20:31:00Z"), "count": None}
    events = write_ndjson(tmp_path / "events.ndjson", [null, lacking])
    assert run(store_url, "ingest", str(posts)).exit_code == 0
    result = run(store_url, "ingest", str(events))
    assert "count must be an integer, not None" in result.output
    assert totals(store_url) == {(P1, code("favorites")): 1, (P1, code("engagements")): 1}


BAD_LINES = [
    ("not json", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"id": "1"}', "missing field: record"),
    ('{"record": "like"}', "unknown record kind"),
    ('{"record": "post", "author_id": "5", "handle": "x"}', "missing field: id"),
    ('{"record": "post", "id": "01", "author_id": "5", "handle": "x"}', "id must be a positive"),
    ('{"record": "post", "id": "7", "author_id": "5", "handle": ""}', "handle must be"),
    (
        '{"record": "post", "id": "7", "author_id": "5", "handle": "x", "protected": "yes"}',
        "protected must be true or false",
    ),
    (
        '{"record": "post", "id": "7", "author_id": "5", "handle": "x", "created_at": "soon"}',
        "created_at is not an ISO 8601",
    ),
    (
        f'{{"record": "engagement", "post_id": "{P1}", "type": "likes", '
        '"at": "2021-01-01T00:00:00Z"}',
        "unknown event type",
    ),
    (
        f'{{"record": "engagement", "post_id": "{P1}", "type": "engagements", '
        '"at": "2021-01-01T00:00:00Z"}',
        "type engagements is derived",
    ),
    (
        f'{{"record": "engagement", "post_id": "{P1}", "type": "favorites", '
        '"at": "2021-01-01T00:00:00Z", "count": 0}',
        "count must be at least 1",
    ),
    (
        f'{{"record": "engagement", "post_id": "{P1}", "type": "favorites", '
        '"at": "2021-01-01T00:00:00Z", "count": "3"}',
        "count must be an integer",
    ),
    (
        f'{{"record": "engagement", "post_id": "{P1}", "type": "favorites", '
        '"at": "2030-01-01T00:00:00Z"}',
        "is later than now",
    ),
    (
        f'{{"record": "engagement", "post_id": "{P1}", "type": "favorites", '
        '"at": "2020-05-12T19:00:00Z"}',
        "before post",
    ),
    (
        '{"record": "engagement", "post_id": "99", "type": "favorites", '
        '"at": "2021-01-01T00:00:00Z"}',
        "neither stored nor earlier in the input",
    ),
    (f'{{"record": "engagement", "post_id": "{P1}", "type": "favorites"}}', "missing field: at"),
]


def test_bad_records_are_reported_by_line_and_the_rest_applied(store_url, tmp_path):
    url = store_url
    lines = [json.dumps(r) for r in sample_records()]
    lines[2:2] = [text for text, _ in BAD_LINES]
    path = tmp_path / "mixed.ndjson"
    path.write_text("\n".join(lines) + "\n")
    result = run(url, "ingest", str(path))
    assert result.exit_code == 1
    reported = result.stderr.strip().splitlines()
    assert len(reported) == len(BAD_LINES)
    for number, (line, (_, reason)) in enumerate(zip(reported, BAD_LINES, strict=True), start=3):
        assert line.startswith(f"{path}: line {number}: "), line
        assert reason in line, line
    assert f"{len(BAD_LINES)} rejected" in result.output
    assert totals(url) == EXPECTED


def test_an_event_before_its_post_in_the_input_is_rejected(store_url, tmp_path):
    url = store_url
    records = sample_records()
    path = write_ndjson(tmp_path / "order.ndjson", [records[2], *records])
    result = run(url, "ingest", str(path))
    assert result.exit_code == 1
    assert "line 1: post 1260294888811347969 is neither stored nor earlier" in result.stderr


def test_a_later_post_record_updates_the_post(store_url, tmp_path):
    url = store_url
    write_ndjson(tmp_path / "a.ndjson", sample_records())
    assert run(url, "ingest", str(tmp_path / "a.ndjson")).exit_code == 0
    update = [post(P1, 2244994945, "XDev", deleted=True, protected=True)]
    assert run(url, "ingest", str(write_ndjson(tmp_path / "b.ndjson", update))).exit_code == 0
    with open_store(url) as store:
        p = store.get_posts([P1])[P1]
        assert (p.deleted, p.protected, p.video_id) == (True, True, "v1")  # others kept
        assert store.get_user(2244994945).handle == "XDev"


def test_moving_a_post_to_another_video_moves_its_views(store_url, tmp_path):
    url = store_url
    records = [
        post(P1, 1, "a", video_id="v1"),
        post(P2, 2, "b", video_id="v1"),
        event(P1, "video_views", "2020-05-13T00:00:00Z", 5),
        event(P2, "video_views", "2020-05-13T00:00:00Z", 7),
    ]
    assert run(url, "ingest", str(write_ndjson(tmp_path / "a.ndjson", records))).exit_code == 0
    with open_store(url) as store:
        assert store.read_video_totals(["v1"]) == {"v1": 12}
    moved = [post(P2, 2, "b", video_id="v2")]
    assert run(url, "ingest", str(write_ndjson(tmp_path / "b.ndjson", moved))).exit_code == 0
    with open_store(url) as store:
        assert store.read_video_totals(["v1", "v2"]) == {"v1": 5, "v2": 7}


def test_unreadable_files_fail_and_change_nothing(store_url, tmp_path):
    url = store_url
    good = write_parquet(tmp_path / "good.parquet", sample_records())
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    result = run(url, "ingest", str(broken), str(tmp_path / "missing.ndjson"))
    assert result.exit_code == 1
    assert "broken.parquet: cannot read" in result.stderr
    assert "missing.ndjson: no such file" in result.stderr
    assert totals(url) == {}


def test_the_installed_console_script(store_url, tmp_path):
    """The real `engagement-api` executable, as a user runs it."""
    url = store_url
    path = write_ndjson(tmp_path / "data.ndjson", sample_records())
    done = subprocess.run(
        ["engagement-api", "--store", url, "--now", NOW, "ingest", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "7 events" in done.stdout
    done = subprocess.run(
        ["engagement-api", "--now", "tomorrow", "demo"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "not an ISO 8601 date-time" in done.stderr
