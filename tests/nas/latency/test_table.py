"""LatencyTable: predictions as sums of parts, files, and one-line refusals."""

from __future__ import annotations

import dataclasses
import json

import pytest

from nas.latency import LatencyTable, LatencyTableError
from scaling import search_proxy
from search_spaces import MBConvSpace, StageChoices, network_parts, space_parts


def _space(resolution: int = 16, kernels: tuple[int, ...] = (3, 5)) -> MBConvSpace:
    skeleton = search_proxy(
        resolution=resolution, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
    )
    choices = StageChoices(
        kernels=kernels, expand_ratios=(1, 6), se_ratios=(0.0,), layer_deltas=(0,),
        width_mults=(1.0,), skips=(True,),
    )  # fmt: skip
    return MBConvSpace.uniform(skeleton, choices)


def _table(space: MBConvSpace, **changes) -> LatencyTable:
    # Each part's "time" is its input width in ms: sums that are easy to check by hand.
    entries = {
        part.key: {"torch": float(part.in_channels), "onnxruntime": part.in_channels / 10}
        for part in space_parts(space)
    }
    table = LatencyTable(
        entries=entries,
        runtimes=("torch", "onnxruntime"),
        resolution=space.skeleton.resolution,
        threads=1,
        skeleton=space.skeleton.name,
        overhead_ms={"torch": 0.5, "onnxruntime": 0.01},
    )
    return dataclasses.replace(table, **changes)


def test_predict_sums_the_parts_less_the_overhead_all_but_one_paid():
    space = _space()
    spec = space.decode(space.extreme(largest=True))
    parts = network_parts(spec)
    widths = sum(part.in_channels for part in parts)
    table = _table(space)
    assert table.predict(spec) == pytest.approx(widths - 0.5 * (len(parts) - 1))
    assert table.predict(spec, "onnxruntime") == pytest.approx(
        widths / 10 - 0.01 * (len(parts) - 1)
    )


def test_calibration_is_a_line_through_the_sum_per_runtime():
    space = _space()
    spec = space.decode(space.extreme(largest=False))
    table = _table(space, calibration={"torch": {"scale": 1.2, "offset_ms": 0.3}})
    raw = table.parts_sum(spec)
    assert table.predict(spec) == pytest.approx(1.2 * raw + 0.3)
    assert table.predict(spec, calibrated=False) == pytest.approx(raw)
    # onnxruntime has no fitted line: its plain sum.
    assert table.predict(spec, "onnxruntime") == pytest.approx(table.parts_sum(spec, "onnxruntime"))


def test_save_and_load_keep_every_prediction(tmp_path):
    space = _space()
    table = _table(space, calibration={"onnxruntime": {"scale": 0.9, "offset_ms": -0.02}})
    table.save(tmp_path / "t.json")
    loaded = LatencyTable.load(tmp_path / "t.json")
    assert loaded.digest() == table.digest()
    spec = space.decode(space.extreme(largest=True))
    for runtime in ("torch", "onnxruntime"):
        assert loaded.predict(spec, runtime) == pytest.approx(table.predict(spec, runtime))


def test_the_digest_changes_with_any_entry_and_an_edited_file_is_refused(tmp_path):
    space = _space()
    table = _table(space)
    key = next(iter(table.entries))
    changed = {**table.entries, key: {"torch": 99.0, "onnxruntime": 1.0}}
    assert dataclasses.replace(table, entries=changed).digest() != table.digest()
    path = tmp_path / "t.json"
    table.save(path)
    document = json.loads(path.read_text())
    document["entries"][key]["torch"] = 99.0
    path.write_text(json.dumps(document))
    with pytest.raises(LatencyTableError, match="changed after it was measured"):
        LatencyTable.load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "cannot read latency table"),
        ('{"format": 7}', "is not a latency table"),
        ('{"format": 1, "runtimes": ["torch"]}', "is not a latency table"),
    ],
)
def test_unreadable_tables_get_one_line(tmp_path, content, message):
    path = tmp_path / "t.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(LatencyTableError, match=message) as error:
        LatencyTable.load(path)
    assert "\n" not in str(error.value)


def test_a_table_for_another_resolution_or_space_is_refused():
    table = _table(_space(kernels=(3,)))
    table.check_covers(_space(kernels=(3,)))
    with pytest.raises(LatencyTableError, match="measured at 16 px but the space is at 32 px"):
        table.check_covers(_space(resolution=32, kernels=(3,)))
    with pytest.raises(LatencyTableError, match=r"lacks \d+ of the space's \d+ parts"):
        table.check_covers(_space(kernels=(3, 5)))
    wider = _space(kernels=(3, 5))
    with pytest.raises(LatencyTableError, match="lacks"):
        table.predict(wider.decode(wider.extreme(largest=True)))


def test_a_runtime_the_table_lacks_is_refused():
    table = _table(_space(), runtimes=("torch",))
    with pytest.raises(LatencyTableError, match="no onnxruntime timings"):
        table.check_runtime("onnxruntime")
