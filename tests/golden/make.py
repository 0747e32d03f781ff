"""Make answers.jsonl.gz: run from the repository root with the code the answers come from.

python -m tests.golden.make
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for helpers

from helpers import world_records

from engagement_api.store import open_store

from . import drive

OUT = Path(__file__).with_name("answers.jsonl.gz")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, open_store(f"sqlite:///{folder}/g.db") as store:
        answers = drive.run(store, world_records())
    with gzip.open(OUT, "wt") as out:
        for answer in answers:
            out.write(json.dumps([answer["status"], answer["digest"]]) + "\n")
    statuses: dict[int, int] = {}
    for answer in answers:
        statuses[answer["status"]] = statuses.get(answer["status"], 0) + 1
    print(f"{OUT}: {len(answers)} answers, statuses {dict(sorted(statuses.items()))}")


if __name__ == "__main__":
    main()
