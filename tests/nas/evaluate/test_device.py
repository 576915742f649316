"""``--device``: where a trial trains, refused in one line where it cannot."""

import pytest
import torch

from nas.evaluate import training_device
from search_spaces import InputError


def test_the_cpu_by_default_and_cuda_where_ray_gives_a_gpu():
    assert training_device(None, on_ray=False) == "cpu"
    assert training_device("cpu", on_ray=True) == "cpu"
    assert training_device(None, gpus_per_trial=1, on_ray=True) == "cuda"
    assert training_device("cuda", gpus_per_trial=0.5, on_ray=True) == "cuda"


@pytest.mark.parametrize(
    ("requested", "gpus", "on_ray", "says"),
    [
        ("gpu", 0, False, "--device takes cpu, cuda or cuda:N, got 'gpu'"),
        ("cuda:x", 0, False, "--device takes cpu, cuda or cuda:N"),
        ("cpu", 1, True, "--device cpu and --gpus-per-trial contradict"),
        ("cuda:1", 1, True, "on Ray, Ray gives each trial its GPU; give --device cuda"),
        ("cuda", 0, True, "--device cuda on Ray needs --gpus-per-trial"),
    ],
)
def test_what_cannot_work_is_refused_with_the_fix(requested, gpus, on_ray, says):
    with pytest.raises(InputError, match=says.replace("(", r"\(")):
        training_device(requested, gpus_per_trial=gpus, on_ray=on_ray)


def test_a_local_gpu_must_exist_here():
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count:
        assert training_device("cuda:0", on_ray=False) == "cuda:0"
        with pytest.raises(InputError, match=f"this machine has {count} CUDA GPU"):
            training_device(f"cuda:{count}", on_ray=False)
    else:
        with pytest.raises(InputError, match="sees no CUDA GPU here; leave --device out"):
            training_device("cuda", on_ray=False)
