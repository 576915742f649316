"""``--backend auto``: Ray where parallel trials pay, here where a trial has this GPU."""

import pytest

from nas.runs import resolve_backend


def test_auto_runs_parallel_trials_where_there_are_cores_and_trials():
    assert resolve_backend("auto", trials=30, cores=2) == "ray"
    assert resolve_backend("auto", trials=30, cores=1) == "local"
    assert resolve_backend("auto", trials=1, cores=16) == "local"
    assert resolve_backend("local", trials=30, cores=16) == "local"
    assert resolve_backend("ray", trials=1, cores=1) == "ray"


def test_auto_trains_here_on_a_gpu_of_this_machine():
    assert resolve_backend("auto", trials=30, cores=16, local_gpu=True) == "local"
    assert resolve_backend("ray", trials=30, cores=16, local_gpu=True) == "ray"


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend 'spark'; choose auto, local, ray"):
        resolve_backend("spark", trials=2)
