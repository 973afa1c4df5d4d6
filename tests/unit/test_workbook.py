"""helpers.workbook: the one start-up call of a notebook, quiet libraries, and the run report."""
import json
import logging

import nbformat
import pandas as pd
import transformers

import helpers
from helpers.core import tracking
from helpers.workbook import report
from helpers.workbook.quiet import quiet_libraries
from helpers.workbook.records import RECORD_MIME


def test_start_returns_the_profile_and_the_notebooks_artifacts_folder(tmp_path, capsys):
    P, out = helpers.start("03_reward_model", "tiny", 0, tmp_path / "artifacts", colwidth=77)
    assert P is helpers.get_profile("tiny") and out == tmp_path / "artifacts" / "03_reward_model" and out.is_dir()
    line = capsys.readouterr().out
    assert "profile tiny: policy" in line and str(out) in line and "threads" in line
    assert pd.get_option("display.max_colwidth") == 77
    assert tracking.kind() == "none"


def test_start_seeds_every_run_the_same_way(tmp_path):
    import torch

    helpers.start("01_sft_formal_emails", "tiny", 5, tmp_path)
    first = float(torch.rand(1))
    helpers.start("01_sft_formal_emails", "tiny", 5, tmp_path)
    assert float(torch.rand(1)) == first


def test_quiet_libraries_silences_transformers_and_bitsandbytes():
    transformers.utils.logging.set_verbosity_info()
    quiet_libraries()
    assert transformers.utils.logging.get_verbosity() == transformers.logging.ERROR
    assert logging.getLogger("bitsandbytes").level == logging.ERROR


def executed_notebook(path, records: dict, figures: int = 1):
    cell = nbformat.v4.new_code_cell("...")
    cell.outputs = [nbformat.v4.new_output("display_data", data={RECORD_MIME: {"name": k, "value": v}, "text/plain": k})
                    for k, v in records.items()]
    cell.outputs += [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})] * figures
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), str(path))
    return path


def test_the_report_has_each_notebooks_records_samples_and_plots(tmp_path):
    nb = executed_notebook(tmp_path / "01_sft_formal_emails.ipynb", {"fact_recall_sft": 0.4537, "sft_steps": 20})
    artifacts = tmp_path / "artifacts" / "01_sft_formal_emails"
    artifacts.mkdir(parents=True)
    (artifacts / "samples.md").write_text("### Lesson 1 samples\n\n> Dear Ann")
    (artifacts / "loss.png").write_bytes(b"\x89PNG")
    path = report.write_report([nb], tmp_path / "artifacts", tmp_path / "report", timings={"01_sft_formal_emails": 61.2})
    text = path.read_text()
    assert "## 01_sft_formal_emails" in text and "Wall time: 61 s" in text and "1 figures shown inline" in text
    assert "| fact_recall_sft | 0.4537 |" in text and "| sft_steps | 20 |" in text
    assert "> Dear Ann" in text and "![loss](plots/01_sft_formal_emails__loss.png)" in text
    assert (tmp_path / "report" / "plots" / "01_sft_formal_emails__loss.png").read_bytes() == b"\x89PNG"
    assert json.loads(json.dumps(helpers.read_records(nb))) == {"fact_recall_sft": 0.4537, "sft_steps": 20}
