"""The inference worker stands apart from the public API: it imports nothing from ``facegate.api``
or ``facegate.cloud``, and its interface loads no model runtime (so the API tier, the SDK and a
test with a fake engine can import it without OpenCV, ONNX Runtime, dlib or PyAV)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import facegate

WORKER = Path(facegate.__file__).parent / "worker"
FORBIDDEN_PACKAGES = ("facegate.api", "facegate.cloud")
MODEL_RUNTIMES = ("cv2", "onnxruntime", "openvino", "dlib", "av", "face_recognition_models")


def _imported_modules(path: Path) -> set[str]:
    """Every module an import statement in ``path`` names, at any depth (imports inside
    functions included: they run too, only later)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules_after_import(*modules: str) -> list[str]:
    """``sys.modules`` of a fresh interpreter after importing ``modules``."""
    code = (
        "import json, sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_no_worker_module_names_the_api_or_the_cloud() -> None:
    files = sorted(WORKER.rglob("*.py"))
    assert len(files) >= 5, files
    offenders = {
        str(f.relative_to(WORKER)): sorted(
            n for n in _imported_modules(f) if _under(n, FORBIDDEN_PACKAGES)
        )
        for f in files
    }
    assert {f: n for f, n in offenders.items() if n} == {}


def test_the_worker_app_loads_without_the_api_or_the_cloud() -> None:
    loaded = _modules_after_import(
        "facegate.worker.service",
        "facegate.worker.remote",
        "facegate.worker.local",
        "facegate.compose",
    )
    assert "facegate.worker.service" in loaded
    assert [m for m in loaded if _under(m, FORBIDDEN_PACKAGES)] == []


def test_the_engine_interface_loads_no_model_runtime() -> None:
    loaded = _modules_after_import("facegate.worker.interface", "facegate.compose")
    assert "facegate.worker.interface" in loaded
    assert [m for m in loaded if _under(m, MODEL_RUNTIMES)] == []


def test_the_check_sees_a_runtime_when_one_is_loaded() -> None:
    # The same probe, on a module that does load OpenCV: the assertions above are not vacuous.
    loaded = _modules_after_import("facegate.worker.local")
    assert any(_under(m, ("cv2",)) for m in loaded)
