# The albert-keras container: TensorFlow 2.21 with this package installed; `albert-keras` is the
# entrypoint, so `docker run IMAGE pretrain --config pipelines/albert_base.yaml` runs a job.
#   docker build -t albert-keras .                                                # CPU
#   docker build --build-arg BASE=tensorflow/tensorflow:2.21.0-gpu -t albert-keras:gpu .
# The launchers in deploy/ start this image on Kubernetes, Vertex AI and Slurm (see deploy/README.md).
ARG BASE=tensorflow/tensorflow:2.21.0
FROM ${BASE}

WORKDIR /opt/albert-keras
COPY setup.py README.md constraints.txt ./
COPY albert_keras ./albert_keras
COPY pipelines ./pipelines
# The base image's TensorFlow satisfies `tensorflow==2.21.*`; pip adds the rest at the versions
# the tests passed with (constraints.txt).
RUN pip install --no-cache-dir -c constraints.txt . && albert-keras presets > /dev/null

ENV PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
# Multi-worker runs talk over this port (ALBERT_KERAS_PORT, deploy/).
EXPOSE 2222
ENTRYPOINT ["albert-keras"]
CMD ["--help"]
