#!/bin/bash
# Pretraining on a Cloud TPU VM (one host, e.g. v5litepod-8), run on the VM from a checkout of
# this repository. TPUStrategy finds the chips through TPUClusterResolver; there is no TF_CONFIG.
# One process: `pretrain` prepares the records first when they are missing, and resumes after a kill.
# DATA and RUNS may be gs:// URLs (records made on Dataflow, deploy/dataflow.md; the run written
# to the bucket through TensorFlow's gs:// file system):
#   gcloud compute tpus tpu-vm ssh NAME --zone=ZONE --command="cd albert_keras && bash deploy/tpu-vm.sh"
#   ... --command="cd albert_keras && DATA=gs://BUCKET/tf_records RUNS=gs://BUCKET/runs bash deploy/tpu-vm.sh"
set -euo pipefail
CONFIG="${1:-pipelines/albert_base.yaml}"
DATA="${DATA:-tf_records}"
RUNS="${RUNS:-runs}"
export TPU_NAME="${TPU_NAME:-local}"   # `local`: the TPU of this VM
pip install -c constraints.txt .  # the versions the tests passed with
albert-keras pretrain --config "$CONFIG" --set train.strategy=tpu --set "data.length_buckets=[]" \
  --set "data.output_dir=$DATA" --set "train.output_dir=$RUNS"
