"""Reference step sequences for the flow-matching schedulers the pipeline uses (see FIXTURES.md).

Called by make_fixtures.py (`--only schedulers`); can also be run directly:
    python tools/reference/make_schedulers.py tests/fixtures/schedulers
"""

import json
import math
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

SAMPLE_SHAPE = (1, 4, 4, 2, 2)  # (B, C, F, H, W): 4 latent frames so the [0, -1] truncation is visible


def _unipc(order, shift, **extra):
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        flow_shift=shift,
        num_train_timesteps=1000,
        solver_order=order,
        **extra,
    )


def _dpm(order, shift, **extra):
    """DPM-Solver++ switched over from a flow-matching UniPC config, as users do with
    `DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, solver_order=...)`."""
    from diffusers import DPMSolverMultistepScheduler

    return DPMSolverMultistepScheduler.from_config(_unipc(2, shift).config, solver_order=order, **extra)


def _euler(shift):
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)


# name -> (factory, steps, truncate_at or None)
CONFIGS = {
    "unipc_o2_s5_n4": (lambda: _unipc(2, 5.0), 4, None),
    "unipc_o2_s5_n4_truncate": (lambda: _unipc(2, 5.0), 4, 2),
    "unipc_o2_s5_n50": (lambda: _unipc(2, 5.0), 50, None),
    "unipc_o2_s5_n50_truncate": (lambda: _unipc(2, 5.0), 50, 10),
    "unipc_o3_s3_n8": (lambda: _unipc(3, 3.0), 8, None),
    "unipc_o3_s3_n8_truncate": (lambda: _unipc(3, 3.0), 8, 3),
    "unipc_o1_s5_n6": (lambda: _unipc(1, 5.0), 6, None),
    "unipc_o2_s5_n7_bh1_nolof": (lambda: _unipc(2, 5.0, solver_type="bh1", lower_order_final=False), 7, None),
    "euler_s5_n4": (lambda: _euler(5.0), 4, None),
    "euler_s5_n4_truncate": (lambda: _euler(5.0), 4, 1),
    "euler_s5_n50": (lambda: _euler(5.0), 50, None),
    "euler_s3_n7": (lambda: _euler(3.0), 7, None),
    # Appended after the others so that their seeds (500 + position) stay the same.
    "dpm_o2_s5_n8": (lambda: _dpm(2, 5.0), 8, None),
    "dpm_o3_s5_n8": (lambda: _dpm(3, 5.0), 8, None),
    "dpm_o3_s5_n8_truncate": (lambda: _dpm(3, 5.0), 8, 3),
    "dpm_o3_s5_n20": (lambda: _dpm(3, 5.0), 20, None),
    "dpm_o1_s3_n6": (lambda: _dpm(1, 3.0), 6, None),
    "dpm_o2_s5_n16_heun": (lambda: _dpm(2, 5.0, solver_type="heun"), 16, None),
    "dpm_o3_s2_n5_euler_final": (lambda: _dpm(3, 2.0, euler_at_final=True, lower_order_final=False), 5, None),
}


def run_config(name, factory, steps, truncate_at, seed, tensors):
    sched = factory()
    sched.set_timesteps(steps)
    gen = torch.Generator().manual_seed(seed)
    sample = torch.randn(SAMPLE_SHAPE, generator=gen)
    p = f"sched.{name}"
    tensors[f"{p}.timesteps"] = sched.timesteps.to(torch.float32).clone()
    tensors[f"{p}.sigmas"] = sched.sigmas.to(torch.float32).clone()
    tensors[f"{p}.sample"] = sample.clone()
    for i, t in enumerate(sched.timesteps):
        if truncate_at is not None and i == truncate_at:
            # exactly what ChronoEditPipeline.__call__ does when temporal reasoning stops
            sample = sample[:, :, [0, -1]]
            for j in range(len(getattr(sched, "model_outputs", []))):
                if sched.model_outputs[j] is not None:
                    if sample.shape[-3] != sched.model_outputs[j].shape[-3]:
                        sched.model_outputs[j] = sched.model_outputs[j][:, :, [0, -1]]
            if getattr(sched, "last_sample", None) is not None:
                sched.last_sample = sched.last_sample[:, :, [0, -1]]
        model_output = torch.randn(sample.shape, generator=gen)
        prev = sched.step(model_output, t, sample, return_dict=False)[0]
        tensors[f"{p}.model_output.{i}"] = model_output.clone()
        tensors[f"{p}.prev_sample.{i}"] = prev.clone()
        sample = prev
    # JSON has no -Infinity (DPM-Solver's default `lambda_min_clipped`): recorded as null.
    cfg = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in dict(sched.config).items()
        if not k.startswith("_")
    }
    return dict(
        scheduler_class=type(sched).__name__,
        config=cfg,
        steps=steps,
        truncate_at=truncate_at,
        seed=seed,
        timesteps=[float(x) for x in sched.timesteps],
        timesteps_dtype=str(sched.timesteps.dtype).replace("torch.", ""),
        sample_shape=list(SAMPLE_SHAPE),
    )


def make_scheduler_fixtures(out_dir):
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    tensors = {}
    meta = {"configs": {}}
    for k, (name, (factory, steps, trunc)) in enumerate(CONFIGS.items()):
        meta["configs"][name] = run_config(name, factory, steps, trunc, 500 + k, tensors)
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(out_dir, "reference.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"schedulers: {size / 1e6:.2f} MB ({len(tensors)} tensors)", flush=True)


if __name__ == "__main__":
    make_scheduler_fixtures(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/schedulers")
