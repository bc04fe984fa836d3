"""What the model server does with an export, in a process without keras or albert_keras.

Run as a script (the tests start it with `subprocess`):

    python model_server.py check VERSION_DIR CALLS.pkl RESULTS.pkl
        Loads the SavedModel with the TF1 loader in a Session (as `tensorflow_model_server`
        does), runs each call `(signature, {input: array})` of CALLS.pkl by tensor names, then
        scans the graph's ops and replays the warmup file. Writes a dict to RESULTS.pkl.
    python model_server.py serve VERSION_DIR MODEL_NAME
        A gRPC PredictionService on 127.0.0.1 that answers with the SavedModel; prints
        `PORT KERAS_LOADED` on the first line of stdout and serves until killed. It links the
        tensorflow-text kernels with `tf.load_op_library`, as the C++ model server does, so it
        runs even where keras cannot be imported (the tests run it so).

`check` imports only tensorflow and tensorflow_text to load and run the model (tensorflow
itself imports keras when it is installed); tensorflow_serving's protos come afterwards, for
the warmup file.
"""

import glob
import importlib.util
import os
import pickle
import sys

import tensorflow as tf
from tensorflow.python.framework import op_def_registry

FORBIDDEN_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


def graph_op_types(version_dir):
    """Every op type in the SavedModel's graph and function library."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(f"{version_dir}/saved_model.pb", "rb") as f:
        saved_model.ParseFromString(f.read())
    ops, functions = set(), set()
    for meta_graph in saved_model.meta_graphs:
        ops |= {node.op for node in meta_graph.graph_def.node}
        for function in meta_graph.graph_def.library.function:
            functions.add(function.signature.name)
            ops |= {node.op for node in function.node_def}
    return ops - functions


def load(version_dir):
    session = tf.compat.v1.Session(graph=tf.Graph())
    meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], version_dir)
    return session, meta_graph


def run(session, meta_graph, signature_name, inputs):
    """Runs a signature by tensor names; inputs left out take the signature's defaults."""
    signature = meta_graph.signature_def[signature_name or "serving_default"]
    unknown = set(inputs) - set(signature.inputs)
    if unknown:
        raise ValueError(f"Inputs {sorted(unknown)} are not in signature {signature_name}")
    feed = {signature.inputs[name].name: value for name, value in inputs.items()}
    names = sorted(signature.outputs)
    values = session.run([signature.outputs[name].name for name in names], feed)
    return dict(zip(names, values))


def check(version_dir, calls_path, results_path):
    core_ops = {op for op in graph_op_types(version_dir) if op_def_registry.get(op) is not None}
    import tensorflow_text  # noqa: F401  (registers the tensorflow-text ops)

    all_ops = graph_op_types(version_dir)
    results = {"core_ops": sorted(core_ops), "text_ops": sorted(all_ops - core_ops),
               "unknown_ops": sorted(op for op in all_ops if op_def_registry.get(op) is None),
               "forbidden_ops": sorted(all_ops & FORBIDDEN_OPS)}
    session, meta_graph = load(version_dir)
    with open(calls_path, "rb") as f:
        calls = pickle.load(f)
    results["outputs"] = [run(session, meta_graph, name, inputs) for name, inputs in calls]
    results["modules"] = sorted(name for name in sys.modules
                                if name.split(".")[0] in ("albert_keras", "keras_hub"))

    from tensorflow_serving.apis import prediction_log_pb2

    replayed = []
    warmup = f"{version_dir}/assets.extra/tf_serving_warmup_requests"
    for record in tf.compat.v1.io.tf_record_iterator(warmup):
        log = prediction_log_pb2.PredictionLog.FromString(record)
        request = log.predict_log.request
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        outputs = run(session, meta_graph, request.model_spec.signature_name, inputs)
        replayed.append((request.model_spec.signature_name, sorted(inputs),
                         {name: value.shape for name, value in outputs.items()}))
    results["warmup"] = replayed
    with open(results_path, "wb") as f:
        pickle.dump(results, f)


def load_text_kernels():
    """Registers tensorflow-text's ops from its shared libraries, without its Python package."""
    package = importlib.util.find_spec("tensorflow_text").submodule_search_locations[0]
    for library in sorted(glob.glob(os.path.join(package, "python", "ops", "_*.so"))):
        tf.load_op_library(library)


def serve(version_dir, model_name):
    load_text_kernels()
    session, meta_graph = load(version_dir)
    from concurrent import futures

    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            if request.model_spec.name != model_name:
                context.abort(grpc.StatusCode.NOT_FOUND, f"No model {request.model_spec.name!r}")
            try:
                inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
                outputs = run(session, meta_graph, request.model_spec.signature_name, inputs)
            except (ValueError, KeyError, tf.errors.OpError) as error:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            response = predict_pb2.PredictResponse()
            response.model_spec.CopyFrom(request.model_spec)
            for name, value in outputs.items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, "keras" in sys.modules, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    mode, *arguments = sys.argv[1:]
    {"check": check, "serve": serve}[mode](*arguments)
