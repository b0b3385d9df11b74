"""Device menu and device problems from a facts dict, so every case is testable without a GPU."""

from __future__ import annotations

import sys

import pytest
from LDEditSlicerLib import describe_torch, device_choices, device_problem

NO_TORCH = {"torch": False, "version": None, "cuda_build": None, "cuda_available": False, "gpus": []}
CPU_BUILD = {"torch": True, "version": "2.13.0+cpu", "cuda_build": None, "cuda_available": False, "gpus": []}
NO_GPU = {**CPU_BUILD, "version": "2.13.0+cu126", "cuda_build": "12.6"}
TWO_GPUS = {
    **NO_GPU,
    "cuda_available": True,
    "gpus": [
        {"index": 0, "name": "NVIDIA GeForce GT 1030", "total_gb": 1.95},
        {"index": 1, "name": "NVIDIA RTX A6000", "total_gb": 47.5},
    ],
}


def test_choices():
    assert device_choices(NO_TORCH) == ["auto", "cpu"]
    assert device_choices(CPU_BUILD) == ["auto", "cpu"]
    assert device_choices(NO_GPU) == ["auto", "cpu"]
    assert device_choices(TWO_GPUS) == ["auto", "cpu", "cuda:0", "cuda:1"]
    assert device_choices({**CPU_BUILD, "mps_available": True}) == ["auto", "cpu", "mps"]


@pytest.mark.parametrize("info", [NO_TORCH, CPU_BUILD, NO_GPU, TWO_GPUS])
def test_cpu_is_never_a_problem(info):
    assert device_problem(info, "cpu") is None


def test_auto_without_a_gpu_simply_runs_on_the_cpu():
    assert device_problem(CPU_BUILD, "auto") is None
    assert device_problem(NO_GPU, "auto") is None
    assert device_problem(NO_TORCH, "cuda:0") is None  # nothing to check before torch is installed


def test_cpu_only_build():
    message = device_problem(CPU_BUILD, "cuda:0")
    assert "CPU-only build" in message and "2.13.0+cpu" in message and "Run on the CPU" in message
    assert device_problem(CPU_BUILD, "cuda") == message


def test_cuda_build_without_a_gpu():
    message = device_problem(NO_GPU, "cuda:0")
    assert "no usable GPU" in message and "driver" in message and "Run on the CPU" in message


def test_too_little_gpu_memory():
    message = device_problem(TWO_GPUS, "cuda:0")
    assert "GT 1030" in message and "1.9 GB" in message and "about 2 GB" in message
    assert "Run on the CPU" in message
    assert device_problem(TWO_GPUS, "cuda:1") is None
    assert device_problem(TWO_GPUS, "cuda:1", needed_gb=64) is not None
    assert "which auto uses" in device_problem(TWO_GPUS, "auto")  # auto takes GPU 0
    assert device_problem(TWO_GPUS, "auto", needed_gb=1.0) is None


def test_a_gpu_that_is_not_there_and_unknown_names():
    message = device_problem(TWO_GPUS, "cuda:2")
    assert "no GPU cuda:2" in message and "cuda:1 (NVIDIA RTX A6000)" in message
    assert "Unknown device" in device_problem(TWO_GPUS, "tpu")
    assert "mps" in device_problem(CPU_BUILD, "mps")


def test_describe_torch_here_and_in_another_python():
    here = describe_torch()
    assert here["torch"] is True and here["version"] and here["error"] is None
    assert set(here) >= {"cuda_build", "cuda_available", "gpus", "mps_available"}
    for gpu in here["gpus"]:
        assert gpu["total_gb"] > 0 and gpu["name"]
    assert describe_torch(python=sys.executable) == here
    broken = describe_torch(python="/nonexistent/PythonSlicer")
    assert broken["torch"] is False and "could not probe" in broken["error"]
    assert device_choices(broken) == ["auto", "cpu"]
