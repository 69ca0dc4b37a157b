"""The scikit-learn estimator contract every heedful model follows, and the one "is it fitted" guard.

Models derive from `BaseEstimator`: `get_params` / `set_params` come from the `__init__` signature, so
`__init__` stores its arguments unchanged under the same names and nothing else; fitted state lives in
attributes ending in `_`. `sklearn.base.clone(model)` then gives an unfitted copy with the same
hyper-parameters.

The base class is scikit-learn's parameter protocol (`get_params`, `set_params`, nested `a__b` names, a
repr of the changed parameters) written out here rather than inherited, because importing `sklearn.base`
loads most of scikit-learn and SciPy's statistics (1.2 s on a 2-core machine): the customer-value and
survey models use nothing else of scikit-learn, and `heedful value …` paid that on every run.
`tests/test_estimators_contract.py` checks each model against scikit-learn's own `clone` and parameter
names. Imports no other heedful module but `errors`.
"""

from __future__ import annotations

import inspect
from typing import Any, Self

from heedful.errors import NotFittedError

__all__ = ["BaseEstimator", "check_fitted"]


class BaseEstimator:
    """scikit-learn's estimator parameter contract: hyper-parameters are the `__init__` arguments."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The `__init__` argument names, sorted (as scikit-learn's `BaseEstimator`)."""
        init = cls.__init__
        if init is object.__init__:
            return []
        parameters = [p for p in inspect.signature(init).parameters.values() if p.name != "self"]
        if any(p.kind == p.VAR_POSITIONAL for p in parameters):
            raise RuntimeError(f"{cls.__name__}.__init__ must not take *args: its parameters must be named.")
        return sorted(p.name for p in parameters if p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyper-parameters by name; with `deep`, those of nested estimators too (as `name__param`)."""
        out: dict[str, Any] = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Self:
        """Set hyper-parameters by name (`name__param` for a nested estimator's); returns the model."""
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in valid:
                known = ", ".join(self._get_param_names())
                raise ValueError(f"Invalid parameter {name!r} for {type(self).__name__}; valid parameters: {known}.")
            if sep:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        """`Model(param=value, …)` with the parameters that differ from their defaults (as scikit-learn)."""
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values() if p.name != "self"
        }
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params(deep=False).items()
            if name not in defaults or repr(value) != repr(defaults[name])
        ]
        return f"{type(self).__name__}({', '.join(changed)})"


def check_fitted(estimator: object, *attributes: str, how: str = "call fit(...) first") -> None:
    """Raise `NotFittedError` unless `estimator` has every one of the fitted `attributes`.

    `how` tells the user what makes the model usable (e.g. "call fit() or load a saved model").
    """
    if not attributes:
        raise ValueError("check_fitted needs the name of at least one fitted attribute")
    if not all(hasattr(estimator, name) for name in attributes):
        raise NotFittedError(f"{type(estimator).__name__} is not fitted yet; {how}.")
