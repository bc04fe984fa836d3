"""The two runners of `prepare`, side by side: `local_runner.py` (this process and its pair
workers) and `beam_runner.py` (an Apache Beam pipeline: `beam_pipeline.py` wires the transforms
of `beam_stages.py` and `beam_shards.py`). Both import `shared_steps.py` and neither imports the
other; `albert_keras.pretraining_data.prepare` picks one."""
