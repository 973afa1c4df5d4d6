"""The workbook's summary report: every notebook's records in a table, and its plots."""
from __future__ import annotations

import shutil
from pathlib import Path

from helpers.workbook.records import read_records
from helpers.workbook.runner import inline_figures


def write_report(executed: list[Path], artifacts_dir: Path, out_dir: Path, timings: dict | None = None) -> Path:
    """Write ``out_dir/report.md`` (records table per notebook, its sample texts, links to plots); return its path.

    A notebook's sample texts are the file ``samples.md`` in its artifacts folder, where it wrote one.
    """
    out_dir = Path(out_dir)
    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# Style Alignment Workbook — run report", ""]
    for notebook in executed:
        stem = Path(notebook).stem
        lines += [f"## {stem}", ""]
        if timings and stem in timings:
            lines += [f"Wall time: {timings[stem]:.0f} s", ""]
        lines += [f"Executed notebook: `{notebook}`, {inline_figures(notebook)} figures shown inline", ""]
        lines += ["| record | value |", "|---|---|"]
        for name, value in read_records(notebook).items():
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            lines.append(f"| {name} | {shown} |")
        lines.append("")
        samples = Path(artifacts_dir) / stem / "samples.md"
        if samples.exists():
            lines += [samples.read_text(encoding="utf-8").strip(), ""]
        for plot in sorted((Path(artifacts_dir) / stem).glob("*.png")):
            copy = plots_dir / f"{stem}__{plot.name}"
            shutil.copyfile(plot, copy)
            lines += [f"![{plot.stem}](plots/{copy.name})", ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report
