# Stage 8, report: the Snakemake HTML report (`make report`). Stages register their
# tables and figures with report(...) on their outputs; captions live in workflow/report/.


report: "../report/workflow.rst"
