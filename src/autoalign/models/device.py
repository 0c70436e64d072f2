"""Where models run: ``device: auto|cpu|cuda|mps``, ``dtype`` and ``autocast``, resolved once per run.

``auto`` picks a CUDA GPU when torch sees one, then Apple's MPS, else the CPU. Every function that
takes a model puts its inputs on the model's own device (``model_device``), so only the places
that build or load a model need to know the run's choice.

``autocast`` runs training steps' matrix products in bf16 (``torch.autocast``: weights, gradients'
accumulation, the optimizer, sampling and scoring stay in ``dtype``). It pays only where the hardware
has bf16 units and the products are large enough: on an AMD EPYC with AVX-512 BF16 at 2 threads a
packed step of the small Llama (128 wide) took 0.83x the fp32 time, of tiny (96 wide) 1.12x and of
micro (64 wide) 1.36x, and on an AVX2-only EPYC, which emulates bf16, 8.4x (the README's speed
section, ``bench/bench_training_options.py``). So ``auto`` resolves to ``bf16-wide`` (models at least
``MIN_BF16_CPU_WIDTH`` wide) on a CPU with AVX-512 BF16 or AMX (AMX not measured here), to ``bf16`` on
a CUDA GPU that supports it (the usual practice; no GPU was measured here), and to ``off`` elsewhere.
It covers ``train_lm``, ``train_verifier`` and ``train_classifier`` (not the policy-optimization or SAE
loops). The resolved policy is part of every stage's key and of the ``run_started`` event.

``compile: on`` runs those same training steps' forward passes through ``torch.compile`` (inductor,
dynamic shapes, so that batches of new widths do not recompile). Only the steps: sampling, scoring and
the validations a training runs between its steps use the eager model, whose decoding loop has its own
shapes and cache. It fuses kernels and so changes float order (part of the stage key, like autocast).
"""

from __future__ import annotations

import contextlib

import torch

from ..errors import UserError
from ..preregistration import cpu_flags
from ..runtime.placement import autocast_policy, compile_policy, placement, set_placement

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
AUTOCAST = ("off", "bf16", "auto")
COMPILE = ("off", "on")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
MIN_BF16_CPU_WIDTH = 128  # the narrowest model whose training step bf16 made faster on a CPU (see above)


def resolve_device(spec: str = "auto") -> str:
    """The concrete device for ``spec``; asking for one this machine lacks is a one-line error."""
    base = spec.split(":", 1)[0]
    if base not in DEVICES:
        raise UserError(f"device: unknown device {spec!r}; use one of {', '.join(DEVICES)}")
    cuda, mps = (
        torch.cuda.is_available(),
        bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available(),
    )
    if base == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if base == "cuda" and not cuda:
        raise UserError("device: cuda was asked for but torch sees no CUDA GPU (a CPU build of torch, or no GPU)")
    if base == "mps" and not mps:
        raise UserError("device: mps was asked for but torch has no MPS backend here")
    return spec


def resolve_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise UserError(f"dtype: unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    return DTYPES[name]


def resolve_autocast(spec: str, device: str) -> str:
    """The training autocast policy for ``spec`` (off, bf16, auto) on ``device``: off, bf16 or bf16-wide."""
    if spec not in AUTOCAST:
        raise UserError(f"autocast: unknown value {spec!r}; use one of {', '.join(AUTOCAST)}")
    if spec != "auto":
        return spec
    kind = device.split(":", 1)[0]
    if kind == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "off"
    if kind == "cpu" and set(cpu_flags() or ()) & set(BF16_CPU_FLAGS):
        return "bf16-wide"
    return "off"


def run_placement(cfg) -> dict:
    """A run config's ``device``, ``dtype``, ``autocast`` and ``compile``, resolved: RunContext's keyword arguments."""
    device = resolve_device(cfg.device)
    if cfg.compile not in COMPILE:
        raise UserError(f"compile: unknown value {cfg.compile!r}; use one of {', '.join(COMPILE)}")
    autocast = resolve_autocast(cfg.autocast, device)
    return {"device": device, "dtype": cfg.dtype, "autocast": autocast, "compile": cfg.compile}


def backbone(model) -> torch.nn.Module | None:
    """``model`` or its first submodule with a Hugging Face config and a width (a verifier's or classifier's LM)."""
    for module in model.modules() if isinstance(model, torch.nn.Module) else ():
        config = getattr(module, "config", None)
        if getattr(config, "hidden_size", None) or getattr(config, "n_embd", None):
            return module
    return None


def model_width(model) -> int | None:
    """The hidden size of ``model`` or of the first submodule with a Hugging Face config (a verifier's backbone)."""
    core = backbone(model)
    if core is None:
        return None
    return int(getattr(core.config, "hidden_size", None) or getattr(core.config, "n_embd", None))


def training_autocast(model):
    """The context a training step's forward pass (and loss) runs in under this process's autocast policy."""
    policy = autocast_policy()
    if policy == "off":
        return contextlib.nullcontext()
    kind = model_device(model).type
    if policy == "bf16-wide" and kind == "cpu" and (model_width(model) or 0) < MIN_BF16_CPU_WIDTH:
        return contextlib.nullcontext()
    return torch.autocast(kind, dtype=torch.bfloat16)


class TrainingStep:
    """One training loop's steps: ``with TrainingStep(model) as in_step:``, then each step's forward pass
    (and loss) ``with in_step():``, under this process's autocast policy and, with ``compile: on``, the
    backbone's forward compiled for the loop. Models without a Hugging Face config train eager.

    The compiled forward is put on the backbone for the step only (an instance attribute, removed after),
    so whatever runs between steps (validation, sampling) and after the loop calls the eager model. Dynamo
    keeps what it compiled for the process (a later model of the same class reuses it). While a compiled
    loop runs (its validations too):

    - torch's deterministic algorithms are on (``warn_only``, and without filling new tensors): without
      them inductor's CPU kernels add some gradients (the embedding's) with atomics, and three processes
      training the same seed gave three sets of weights; with them, one (``tests/test_compile.py``, and
      ``bench/bench_compile_run.py`` across processes);
    - inductor's CPU kernels read the thread count when they run (``cpp.dynamic_threads``), not the one
      they were compiled under, since stages of one process may run at different thread counts;
    - dynamo may recompile up to 64 times (models of several sizes, forwards with other arguments) and
      fails loudly past that rather than running the steps eager under a key that says compiled."""

    def __init__(self, model):
        self.model = model
        self.core = backbone(model) if compile_policy() == "on" else None
        self.forward, self.failures, self.scope = None, (), None

    def __enter__(self) -> TrainingStep:
        if self.core is None:
            return self
        import torch._dynamo.config as dynamo_config
        import torch._inductor.config as inductor_config
        import torch.utils.deterministic
        from torch._dynamo import exc

        names = ("BackendCompilerFailed", "FailOnRecompileLimitHit")
        self.failures = tuple(getattr(exc, n) for n in names if hasattr(exc, n))
        limits = {"recompile_limit": 64, "fail_on_recompile_limit_hit": True}
        self.scope = contextlib.ExitStack()
        self.scope.enter_context(dynamo_config.patch({k: v for k, v in limits.items() if hasattr(dynamo_config, k)}))
        self.scope.enter_context(inductor_config.patch({"cpp.dynamic_threads": True}))
        saved = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.utils.deterministic.fill_uninitialized_memory,
        )
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.utils.deterministic.fill_uninitialized_memory = False  # a decoding cache's new_empty stays cheap
        self.scope.callback(_restore_determinism, *saved)
        self.forward = torch.compile(self.core.forward, dynamic=True)
        return self

    def __exit__(self, kind, error, trace) -> None:
        if self.scope is not None:
            self.scope.close()
        self.forward, self.scope = None, None
        if isinstance(error, self.failures):  # the backward pass compiles at its first call, outside a step
            raise _compile_error(error) from error

    @contextlib.contextmanager
    def __call__(self):
        with training_autocast(self.model):
            if self.forward is None:
                yield
                return
            own = self.core.__dict__.get("forward")
            self.core.forward = self.forward
            try:
                yield
            except self.failures as e:
                raise _compile_error(e) from e
            finally:
                if own is None:
                    del self.core.forward
                else:
                    self.core.forward = own


def _restore_determinism(enabled: bool, warn_only: bool, fill: bool) -> None:
    import torch.utils.deterministic

    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
    torch.utils.deterministic.fill_uninitialized_memory = fill


def _compile_error(e: Exception) -> UserError:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return UserError(f"compile: on, but torch.compile failed on this machine ({first}); set compile: off")


def use(device: str, dtype: str = "float32") -> None:
    """Set the device and dtype that models built or loaded from now on (in this process) go to."""
    resolve_dtype(dtype)
    set_placement(resolve_device(device), dtype)


def current() -> tuple[str, str]:
    """The device and dtype of this process (``runtime/placement.py``: a run sets them in each worker)."""
    return placement()


def place(model):
    """Move a freshly built or loaded model to the current device and dtype (training keeps float32
    master weights unless the run asks otherwise)."""
    device, dtype = current()
    return model.to(device=device, dtype=resolve_dtype(dtype))


def model_device(model) -> torch.device:
    dev = getattr(model, "device", None)
    if isinstance(dev, torch.device):
        return dev
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")
