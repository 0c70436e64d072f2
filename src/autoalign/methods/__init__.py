"""Weak-to-strong methods as plug-ins: how a strong model learns from a weak supervisor's labels.

``base.py`` is the contract (what a method receives and returns; what it never receives),
``student.py`` the training helper the built-ins use and a plug-in may call, ``builtin.py`` the
registered ``ce``, ``confidence``, ``bootstrap`` and ``overseer``. The ``weak_to_strong`` protocol
runs any method in ``autoalign.registry.methods`` and scores it on its sealed test labels.
"""

from .base import Budget, Method, MethodInputs, ModelHandle, Predictions, Text, check_method_names, method_class
from .student import fit_predict, train_student

__all__ = [
    "Budget",
    "Method",
    "MethodInputs",
    "ModelHandle",
    "Predictions",
    "Text",
    "check_method_names",
    "fit_predict",
    "method_class",
    "train_student",
]
