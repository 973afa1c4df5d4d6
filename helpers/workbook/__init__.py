"""Running the notebooks: records, runner, report, plots, version check, quiet logging, upstream artifacts, the training CLI."""
