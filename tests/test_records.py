"""The typed result files: what is written follows the schema, what is read comes back through attributes."""

from __future__ import annotations

import json

import pytest

from model.errors import ArtifactError
from model.schema.card import ARTIFACT_DIR, SCHEMA_VERSIONS
from model.schema.records import RECORD_KINDS, Candidates, Rescore, TrustEvaluation, load, read, write


@pytest.mark.parametrize("name", sorted(RECORD_KINDS))
def test_every_committed_result_file_follows_its_schema_exactly(name):
    kind = RECORD_KINDS[name]
    data = json.loads((ARTIFACT_DIR / name).read_text(encoding="utf-8"))
    record = kind.from_dict(data, strict=True)
    assert record.schema_version == SCHEMA_VERSIONS[name]
    assert load(kind, ARTIFACT_DIR) == read(kind, ARTIFACT_DIR / name)


def test_the_writer_refuses_a_missing_or_an_unknown_key_and_writes_nothing(tmp_path):
    with pytest.raises(ArtifactError, match="missing rows"):
        write(Rescore, tmp_path / "r.json", {})
    with pytest.raises(ArtifactError, match="unknown row"):
        write(Rescore, tmp_path / "r.json", {"rows": [], "row": 1})
    assert not (tmp_path / "r.json").exists()


def test_written_records_read_back_through_attributes(tmp_path):
    written = write(Candidates, tmp_path / "c.json", {"runs": {"main": {"frozen_backbone_head": {"full": 0.8}}}})
    read_back = read(Candidates, tmp_path / "c.json")
    assert read_back == written and read_back.runs["main"]["frozen_backbone_head"]["full"] == 0.8
    assert load(TrustEvaluation, tmp_path) is None  # not produced yet


def test_a_file_that_lacks_a_required_key_is_refused_with_its_name(tmp_path):
    (tmp_path / TrustEvaluation.FILE).write_text(json.dumps({"schema_version": SCHEMA_VERSIONS[TrustEvaluation.FILE]}))
    with pytest.raises(
        ArtifactError, match=f"{TrustEvaluation.FILE} does not follow its schema: missing artifact_sha256"
    ):
        read(TrustEvaluation, tmp_path / TrustEvaluation.FILE)
