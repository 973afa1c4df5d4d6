"""Saves are atomic and never lose an earlier copy or anything the workbook did not write."""
import pytest

from helpers.core.checkpoints import MARKER, save_atomically


def writer(text):
    return lambda folder: (folder / "weights.bin").write_text(text)


def failing(folder):
    (folder / "weights.bin").write_text("half")
    raise OSError("disk full")


def test_an_earlier_save_is_kept_aside(tmp_path):
    target = tmp_path / "sft_model"
    save_atomically(target, writer("v1"))
    save_atomically(target, writer("v2"))
    save_atomically(target, writer("v3"))
    assert (tmp_path / "sft_model.previous-1" / "weights.bin").read_text() == "v1"
    assert (tmp_path / "sft_model.previous-2" / "weights.bin").read_text() == "v2"
    assert (target / "weights.bin").read_text() == "v3" and (target / MARKER).exists()


def test_overwrite_replaces_only_after_the_new_copy_is_complete(tmp_path):
    target = tmp_path / "m"
    save_atomically(target, writer("v1"))
    with pytest.raises(OSError, match="disk full"):
        save_atomically(target, failing, overwrite=True)
    assert (target / "weights.bin").read_text() == "v1"  # the old copy survives a failed save
    save_atomically(target, writer("v2"), overwrite=True)
    assert (target / "weights.bin").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no copy kept, no staging folder left


def test_a_failed_first_save_leaves_no_partial_folder(tmp_path):
    with pytest.raises(OSError):
        save_atomically(tmp_path / "m", failing)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_never_deletes_a_folder_the_workbook_did_not_write(tmp_path):
    artifacts = tmp_path / "01_sft_formal_emails"
    artifacts.mkdir()
    (artifacts / "manual_scores.jsonl").write_text('{"item_id": "i0"}\n')
    with pytest.raises(FileExistsError, match="did not save there"):
        save_atomically(artifacts, writer("v1"), overwrite=True)
    assert (artifacts / "manual_scores.jsonl").read_text() == '{"item_id": "i0"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_sft_formal_emails"]


def test_without_overwrite_such_a_folder_is_moved_aside_whole(tmp_path):
    artifacts = tmp_path / "x"
    artifacts.mkdir()
    (artifacts / "labels.jsonl").write_text("mine\n")
    save_atomically(artifacts, writer("v1"))
    assert (tmp_path / "x.previous-1" / "labels.jsonl").read_text() == "mine\n"
