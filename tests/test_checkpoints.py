from helpers.checkpoints import fresh_dir


def test_existing_folder_is_kept_aside(tmp_path):
    target = tmp_path / "sft_model"
    fresh_dir(target)
    (target / "weights.bin").write_text("v1")
    fresh_dir(target)
    assert (tmp_path / "sft_model.previous-1" / "weights.bin").read_text() == "v1"
    assert target.exists() and not any(target.iterdir())
    (target / "weights.bin").write_text("v2")
    fresh_dir(target)
    assert (tmp_path / "sft_model.previous-2" / "weights.bin").read_text() == "v2"


def test_overwrite_replaces(tmp_path):
    target = tmp_path / "m"
    fresh_dir(target)
    (target / "w").write_text("x")
    fresh_dir(target, overwrite=True)
    assert not any(target.iterdir()) and not (tmp_path / "m.previous-1").exists()
