"""How a run trains: its settings as one dataclass, without Keras.

The app server builds one for every run it queues (core.ml.choices.configs) and runs without
TensorFlow, so this lives apart from core.ml.training, which trains with it in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 128  # Small enough for many updates per epoch, large enough for speed.
    learning_rate: float = 2e-3  # Adam's peak rate; the cosine schedule decays it to 1%.
    subset: int | None = None  # Training images to use (None: all 55000).
    seed: int = 0  # Seeds weights, subset choice, shuffling and noise.
    keep_best: bool = False  # End with the weights of the best validation epoch.
    validation: bool = True  # Evaluate on the held-out 5000 images after each epoch.
    # Evaluate on only the first N of them (None: all). The Train page's live runs use 1,000:
    # a pass over 5,000 cost a third of a short conv run (bench/engine.py), and the chart says so.
    validation_images: int | None = None
    jit_compile: bool = False  # XLA-compile the train step (faster for some models on CPU).
    dataset: str = "mnist"  # core.ml.data's name: "mnist" or "fashion".
    # Labels left out of training and validation: the odd ones of an odd-one-out run, which
    # learns what normal is from the other labels only. The test set keeps every label (the
    # Odd one out page scores them all).
    odd: list[int] = field(default_factory=list)
