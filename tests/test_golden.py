"""Every answer of the fixed corpus is byte-for-byte what the server answered before the read
path was rewritten (tests/golden: the corpus, and the digests made from the earlier code)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from golden import corpus, drive
from helpers import world_records

ANSWERS = Path(__file__).with_name("golden") / "answers.jsonl.gz"


@pytest.mark.parametrize("remember_answers", [True, False], ids=["remembered", "general"])
def test_answers_are_byte_for_byte_as_before(store, remember_answers):
    """With the worker's memory of written answers (most later requests join remembered
    members) and without it (every answer written by the general path)."""
    with gzip.open(ANSWERS, "rt") as lines:
        expected = [json.loads(line) for line in lines]
    answers = drive.run(store, world_records(), remember_answers)
    assert len(answers) == len(expected) == 3000
    differing = [
        (index, answer["endpoint"], answer["auth"], answer["body"], answer["status"], status)
        for index, (answer, (status, digest)) in enumerate(zip(answers, expected, strict=True))
        if (answer["status"], answer["digest"]) != (status, digest)
    ]
    assert not differing, f"{len(differing)} answers differ, the first: {differing[0]}"
    assert {status for status, _ in expected} == {200, 400, 403}
    assert corpus.NOW == "2026-11-20T12:30:00Z"
