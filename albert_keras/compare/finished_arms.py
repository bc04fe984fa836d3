"""A rerun of `compare` keeps the arms that finished: what an arm ran with, and its check.

Each arm's folder holds `arm.json` (its part of the report, written by its process) and, once
that process succeeded, `arm_settings.json` (the settings it ran with and their digest). A
rerun with the same settings reuses `arm.json`; any difference, or a missing file, runs the
arm again and says why. The folder may be a URL (read through `file_io`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Any

from albert_keras.utils import file_io

ARM_RESULT = "arm.json"  # The arm's part of the report, written by its process.
ARM_SETTINGS = "arm_settings.json"  # What it ran with, written once that process succeeded.


def arm_settings(config, arm, plan,
                 manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """What shapes an arm's result, as JSON: the arm (`ArmConfig`), the pipeline without its
    other arms, the `ArmPlan` and the records' manifest (without its wall time)."""
    pipeline = dataclasses.asdict(config)
    pipeline["compare"].pop("arms", None)
    manifest = {k: v for k, v in (manifest or {}).items() if k != "seconds"}
    return json.loads(json.dumps({"arm": dataclasses.asdict(arm), "pipeline": pipeline,
                                  "plan": dataclasses.asdict(plan), "manifest": manifest},
                                 sort_keys=True, default=str))


def finished_result(arm_dir: str,
                    settings: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """`(result, None)` for an arm in `arm_dir` that finished with `settings`; else
    `(None, why not)`, the reason None when it never ran."""
    result_path = os.path.join(arm_dir, ARM_RESULT)
    settings_path = os.path.join(arm_dir, ARM_SETTINGS)
    if not file_io.isfile(settings_path) or not file_io.isfile(result_path):
        started = file_io.isdir(arm_dir) and file_io.listdir(arm_dir)
        return None, "it did not finish before" if started else None
    try:
        stored = json.loads(file_io.read_text(settings_path))
        result = json.loads(file_io.read_text(result_path))
    except (OSError, ValueError) as error:
        return None, f"its records cannot be read ({error})"
    if not isinstance(stored, dict) or stored.get("settings_sha256") != settings_digest(settings):
        before = stored.get("settings", {}) if isinstance(stored, dict) else {}
        changed = sorted(_differences(before, settings))
        return None, ("its settings changed: " + ", ".join(changed[:8])
                      + (" ..." if len(changed) > 8 else "")) if changed else "settings changed"
    fingerprints = result.get("fingerprints", {}) if isinstance(result, dict) else {}
    plan, pipeline = settings["plan"], settings["pipeline"]
    expected = {"records": plan["records"], "tokenizer": plan["tokenizer"],
                "seed": pipeline["train"]["seed"], "data_seed": pipeline["data"]["seed"]}
    wrong = [k for k, v in expected.items() if fingerprints.get(k) != v]
    if wrong:
        return None, f"its recorded fingerprints differ ({', '.join(wrong)})"
    return result, None


def _differences(before: Any, after: Any, where: str = "") -> list[str]:
    """The dotted keys whose values differ between two JSON objects."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = set(before) | set(after)
        return [d for k in keys for d in _differences(before.get(k), after.get(k),
                                                      f"{where}.{k}" if where else k)]
    return [where or "settings"] if before != after else []


def settings_digest(settings: dict[str, Any]) -> str:
    """SHA-256 of `settings` as canonical JSON."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
