from setuptools import find_packages, setup

setup(
    name="albert-keras",
    version="0.1.0",
    description="BERT and ALBERT from one SharedTransformerLayer: Keras 3, tf.data, tf.distribute, TF Serving.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["albert_keras", "albert_keras.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.*",
        "tensorflow-text==2.21.*",
        "keras>=3.15,<3.16",  # Private hooks: tests/test_keras_hooks.py
        "keras-hub>=0.32,<0.33",
        "tensorflow-serving-api==2.21.*",
        "sentencepiece>=0.2",
        "pyyaml>=6",
        "safetensors>=0.4",
        "tqdm>=4.60",
        "tensorboard>=2.21,<2.22",
        "matplotlib>=3.7",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "pytest-xdist>=3.6",  # pytest.ini runs the suite on every core.
            "hypothesis>=6.100",  # Property tests over random corpora and settings.
            "tensorflow-datasets>=4.9",
            "torch==2.13.0",
            "transformers>=4.45",
            # tests/test_notebook.py runs notebooks/quickstart.ipynb in a kernel.
            "nbclient>=0.10",
            "nbformat>=5.10",
            "ipykernel>=6.29",
        ],
        # ONNX and LiteRT exports (`albert-keras export --format onnx | litert`) and their
        # runtimes, which the tests check the exports against.
        "export": [
            "onnx>=1.17",
            "tf2onnx>=1.16",
            "onnxruntime>=1.20",
            "ai-edge-litert>=1.2",
        ],
        # `prepare --runner beam` (DirectRunner here; Dataflow, Flink, Spark by pipeline
        # options). Beam 2.77 needs protobuf < 7, and sentencepiece 0.2.3's model proto needs
        # protobuf >= 7.36 (tokenizer training edits it): 0.2.0-0.2.2 work with both.
        "beam": [
            "apache-beam>=2.77",
            "sentencepiece>=0.2,<0.2.3",
        ],
    },
    entry_points={"console_scripts": ["albert-keras=albert_keras.cli:main"]},
)
