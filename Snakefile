# adata-hf-datasets: AnnData chunks with embeddings -> Hugging Face DatasetDict (local, Hub).
from snakemake.utils import min_version

min_version("9.27")


configfile: workflow.current_basedir.join("config/config.yaml").get_path_or_uri(secret_free=True)


include: "workflow/rules/common.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/sentences.smk"
include: "workflow/rules/negatives.smk"
include: "workflow/rules/upload.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/hub.smk"


rule all:
    default_target: True
    input:
        get_final_outputs(),


onsuccess:
    report_dataset_warnings()
