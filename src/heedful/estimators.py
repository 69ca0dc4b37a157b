"""The scikit-learn estimator contract every heedful model follows, and the one "is it fitted" guard.

Models derive from `BaseEstimator` (scikit-learn's): `get_params` / `set_params` come from the
`__init__` signature, so `__init__` stores its arguments unchanged under the same names and nothing
else; fitted state lives in attributes ending in `_`. `sklearn.base.clone(model)` then gives an
unfitted copy with the same hyper-parameters. Imports no other heedful module but `errors`.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator

from heedful.errors import NotFittedError

__all__ = ["BaseEstimator", "check_fitted"]


def check_fitted(estimator: object, *attributes: str, how: str = "call fit(...) first") -> None:
    """Raise `NotFittedError` unless `estimator` has every one of the fitted `attributes`.

    `how` tells the user what makes the model usable (e.g. "call fit() or load a saved model").
    """
    if not attributes:
        raise ValueError("check_fitted needs the name of at least one fitted attribute")
    if not all(hasattr(estimator, name) for name in attributes):
        raise NotFittedError(f"{type(estimator).__name__} is not fitted yet; {how}.")
