"""The tooling around the results: the generated blocks of README.md and docs/ (report) and the offline `dvc plots`
page with its browser check (plots_page). Nothing in the pipeline or the analysis imports it."""
