import pytest
import torch
from torch import nn

from nas.models import LatencyResult, _latency, measure_latency
from search_spaces import NetworkSpec, count_flops

TINY = NetworkSpec.from_dict(
    {
        "name": "tiny",
        "blocks": ["r1_k3_s11_e1_i16_o16_se0.25", "r1_k3_s22_e3_i16_o24"],
        "stem_channels": 16,
        "head_channels": 64,
        "activation": "swish",
        "resolution": 16,
        "num_classes": 10,
        "dropout": 0.0,
        "fix_stem_head": False,
        "in_channels": 1,
    }
)
BIG = NetworkSpec.from_dict(
    {
        **TINY.to_dict(),
        "name": "big",
        "blocks": [
            "r2_k3_s11_e1_i32_o32_se0.25",
            "r3_k5_s22_e6_i32_o64_se0.25",
            "r3_k3_s11_e6_i64_o96",
        ],
        "stem_channels": 32,
        "head_channels": 256,
        "resolution": 64,
    }
)


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_returns_positive_timings():
    result = measure_latency(TINY, runs=5, warmup=1, batch_size=2)
    assert isinstance(result, LatencyResult)
    assert 0 < result.median_ms <= result.p90_ms
    assert (result.runs, result.threads, result.batch_size) == (5, 1, 2)


def test_much_bigger_network_is_slower():
    # ~935x the conv+linear multiply-adds; measured ~12x the latency on one thread.
    assert count_flops(BIG) > 500 * count_flops(TINY)
    tiny = measure_latency(TINY, runs=10)
    big = measure_latency(BIG, runs=10)
    assert big.median_ms > 3 * tiny.median_ms


class _Recorder(nn.Module):
    """Stands in for the built model and records how it is called."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.calls: list[tuple[tuple[int, ...], int, bool, bool, bool]] = []
        self.fail = fail

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = (
            tuple(x.shape),
            torch.get_num_threads(),
            torch.is_inference_mode_enabled(),
            self.training,
            bool((x == 0).all()),
        )
        self.calls.append(state)
        if self.fail:
            raise RuntimeError("boom")
        return x


@pytest.mark.parametrize("previous", [1, 2])
def test_measures_under_the_requested_threads_and_restores_them(monkeypatch, previous):
    recorder = _Recorder()
    monkeypatch.setattr(_latency, "build_model", lambda spec: recorder)
    torch.set_num_threads(previous)
    threads = 3 - previous  # always different from the current setting
    result = measure_latency(TINY, threads=threads, warmup=2, runs=4, batch_size=3)
    assert recorder.calls == [((3, 1, 16, 16), threads, True, False, True)] * 6
    assert result.threads == threads and result.runs == 4
    assert torch.get_num_threads() == previous


def test_threads_are_restored_when_the_model_fails(monkeypatch):
    monkeypatch.setattr(_latency, "build_model", lambda spec: _Recorder(fail=True))
    torch.set_num_threads(2)
    with pytest.raises(RuntimeError, match="boom"):
        measure_latency(TINY, threads=1)
    assert torch.get_num_threads() == 2


def test_no_warmup_and_a_single_run_are_allowed():
    result = measure_latency(TINY, warmup=0, runs=1)
    assert result.median_ms == result.p90_ms > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threads": 0}, "threads must be an integer >= 1"),
        ({"threads": 1.0}, "threads must be an integer >= 1"),
        ({"warmup": -1}, "warmup must be an integer >= 0"),
        ({"runs": 0}, "runs must be an integer >= 1"),
        ({"runs": True}, "runs must be an integer >= 1"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"seed": "0"}, "seed must be an integer"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        measure_latency(TINY, **kwargs)
