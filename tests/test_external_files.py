"""Reading the external scripts tree safely, and extraction (no runner needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engines import Language, Script
from registry.external import ExternalFileError, candidates, classify, read_script, scan
from registry.extract import extract_scripts


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "scripts"
    (root / "wargame").mkdir(parents=True)
    return root


def test_classify_accepts_only_module_name_ext(tree: Path) -> None:
    assert classify(tree, tree / "wargame" / "dmg.tengo") == ("wargame", "dmg")
    assert classify(tree, tree / "wargame" / "dmg.zy") == ("wargame", "dmg")
    assert classify(tree, tree / "wargame" / "dmg.zygomys") == ("wargame", "dmg")
    for ignored in ["README.md", "wargame/.dmg.tengo.swp", "wargame/dmg.tengo~", "wargame/x/y.tengo", "a.tengo"]:
        assert classify(tree, tree / ignored) is None, ignored


def test_read_checks_names_size_encoding_and_escapes(tree: Path, tmp_path: Path) -> None:
    good = tree / "wargame" / "dmg.tengo"
    good.write_text("result := 1")
    script = read_script(tree, good)
    assert (script.module, script.name, script.language, script.origin) == (
        "wargame",
        "dmg",
        Language.TENGO,
        "external",
    )

    bad_name = tree / "wargame" / "Bad Name.tengo"
    bad_name.write_text("result := 1")
    with pytest.raises(ExternalFileError, match=r"\[a-z0-9_-\]"):
        read_script(tree, bad_name)

    big = tree / "wargame" / "big.tengo"
    big.write_text("x := 1\n" * 100)
    with pytest.raises(ExternalFileError, match="over the 100-byte limit"):
        read_script(tree, big, max_bytes=100)

    binary = tree / "wargame" / "bin.zy"
    binary.write_bytes(b"(def result 1)\xff\xfe")
    with pytest.raises(ExternalFileError, match="not UTF-8"):
        read_script(tree, binary)

    secret = tmp_path / "secret.tengo"
    secret.write_text("result := 'top secret'")
    link = tree / "wargame" / "leak.tengo"
    link.symlink_to(secret)
    with pytest.raises(ExternalFileError, match="outside the scripts directory"):
        read_script(tree, link)

    outside_module = tmp_path / "elsewhere"
    outside_module.mkdir()
    (outside_module / "x.tengo").write_text("result := 2")
    (tree / "evil").symlink_to(outside_module)
    with pytest.raises(ExternalFileError, match="outside the scripts directory"):
        read_script(tree, tree / "evil" / "x.tengo")


def test_a_symlink_inside_the_tree_is_fine(tree: Path) -> None:
    (tree / "wargame" / "real.tengo").write_text("result := 3")
    (tree / "wargame" / "alias.tengo").symlink_to(tree / "wargame" / "real.tengo")
    assert read_script(tree, tree / "wargame" / "alias.tengo").source == "result := 3"


def test_a_fifo_is_not_read(tree: Path) -> None:
    fifo = tree / "wargame" / "pipe.tengo"
    os.mkfifo(fifo)
    with pytest.raises(ExternalFileError, match="not a regular file"):
        read_script(tree, fifo)


def test_scan_and_candidates(tree: Path) -> None:
    (tree / "wargame" / "a.tengo").write_text("")
    (tree / "wargame" / "a.zy").write_text("")
    (tree / "wargame" / "b.zy").write_text("")
    (tree / "other").mkdir()
    (tree / "other" / "c.tengo").write_text("")
    assert scan(tree) == {("wargame", "a"), ("wargame", "b"), ("other", "c")}
    assert [p.name for p in candidates(tree, ("wargame", "a"))] == ["a.tengo", "a.zy"]
    assert candidates(tree, ("nomodule", "x")) == []


def test_extraction_writes_and_never_overwrites(tmp_path: Path) -> None:
    scripts = [
        Script("wargame", "dmg", Language.TENGO, "result := 1", path="pkg/dmg.tengo"),
        Script("wargame", "ev", Language.ZYGOMYS, "(def result 1)", path="pkg/ev.zy"),
        Script("other", "x", Language.TENGO, "result := 2", path="pkg/x.tengo"),
    ]
    target = tmp_path / "out"
    (target / "wargame").mkdir(parents=True)
    (target / "wargame" / "dmg.tengo").write_text("my edit")
    (target / "wargame" / "ev.tengo").write_text("a Tengo replacement of the Zygomys default")
    results = {(r.module, r.name): r for r in extract_scripts(scripts, target)}
    assert results[("wargame", "dmg")].outcome == "skipped"
    assert results[("wargame", "ev")].outcome == "skipped"
    assert "ev.tengo already overrides it" in (results[("wargame", "ev")].reason or "")
    assert results[("other", "x")].outcome == "written"
    assert (target / "wargame" / "dmg.tengo").read_text() == "my edit"
    assert not (target / "wargame" / "ev.zy").exists()
    assert (target / "other" / "x.tengo").read_text() == "result := 2"
    only = extract_scripts(scripts, tmp_path / "only", module="other")
    assert [(r.module, r.outcome) for r in only] == [("other", "written")]


def test_a_file_that_goes_away_is_in_flux_not_an_error(tree: Path) -> None:
    from registry.external import FileInFlux

    with pytest.raises(FileInFlux):
        read_script(tree, tree / "wargame" / "gone.tengo")


def test_a_file_younger_than_the_quiet_period_is_in_flux(tree: Path) -> None:
    from registry.external import FileInFlux

    fresh = tree / "wargame" / "fresh.tengo"
    fresh.write_text("result := 1")
    with pytest.raises(FileInFlux, match="moments ago"):
        read_script(tree, fresh, min_age=60)
    assert read_script(tree, fresh).source == "result := 1"
