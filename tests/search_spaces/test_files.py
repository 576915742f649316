import pytest

from search_spaces import write_atomic, write_text_atomic


def test_write_text_atomic_replaces_the_file_and_leaves_nothing_beside_it(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text("old", encoding="utf-8")
    write_text_atomic(path, "new\n")
    assert path.read_text(encoding="utf-8") == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_partial_one(tmp_path):
    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    seen = []

    def write(tmp):
        seen.append(tmp.name)
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, write)
    assert seen == [".plot.tmp.png"]  # the suffix stays, so matplotlib picks the format
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]
