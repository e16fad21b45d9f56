"""Declarative state schemas: what a loadable estimator's saved state must satisfy.

Every class that :mod:`maaskit.persistence` can load declares ``_state_schema``, a
:class:`StateSchema` listing its arrays (:class:`Arr`), its JSON attributes (:class:`Attr`,
:class:`Ids`) and structural rules (:class:`CSR`, :class:`Forest`, :class:`Net`,
:class:`Rule`). Shapes are written with *named dimensions* (``"n_users"``, ``"n_items"``,
``"n_factors"``, ``"n_classes"``, ``"n_features"`` ...): the first array or attribute that
mentions a name binds it, every later mention must agree. Index arrays name the dimension
they index into, so an out-of-range or negative index is caught here, not in a kernel.

:func:`check_state` runs one schema against an artifact's ``params``, ``attrs`` and
``arrays`` before ``_set_state`` sees them. The schema is closed: an array or attribute it
does not declare is refused (an artifact cannot set arbitrary attributes on an estimator).
A violation raises :class:`~maaskit.exceptions.ArtifactError` naming the array (or
attribute) and the rule, e.g. ``load: ALS array 'seen_indices_': values must be in
[0, n_items=15); got max 900.``
"""

from __future__ import annotations

import fnmatch
import math
import numbers
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from .exceptions import ArtifactError

__all__ = ["StateSchema", "Arr", "Attr", "Ids", "CSR", "Forest", "Net", "Rule", "Nested", "check_state",
           "BACKENDS"]

#: Values a saved ``backend_`` may take.
BACKENDS = ("cython", "numba", "numpy", "torch", "auto")
#: Largest per-sample activation a saved network may declare (elements per layer output).
MAX_ACTIVATION = 1 << 24
#: Largest value of an integer in a layer's configuration (units, filters, sizes ...).
MAX_LAYER_INT = 1 << 20

_DTYPES = {
    "f4": ("f", (4,)), "f8": ("f", (8,)), "f": ("f", (4, 8)),
    "i4": ("i", (4,)), "i8": ("i", (8,)), "i": ("i", (1, 2, 4, 8)),
    "iu": ("iu", (1, 2, 4, 8)), "U": ("U", None), "b": ("b", (1,)),
    "label": ("biufU", None), "num": ("biuf", None),
}


class _Ctx:
    """What a check has learnt so far: bound dimensions and where they came from."""

    def __init__(self, cls_name: str, params: dict, attrs: dict, arrays: dict) -> None:
        self.name = cls_name
        self.params, self.attrs, self.arrays = params, attrs, arrays
        self.dims: dict[str, int] = {}
        self.origin: dict[str, str] = {}

    def fail(self, what: str, rule: str) -> None:
        raise ArtifactError(f"load: {self.name} {what}: {rule}.")

    def bind(self, dim: str, value: int, what: str) -> None:
        if dim in self.dims:
            if self.dims[dim] != value:
                self.fail(what, f"dimension {dim} must be {self.dims[dim]} (from {self.origin[dim]}); got {value}")
        else:
            self.dims[dim] = int(value)
            self.origin[dim] = what


@dataclass(frozen=True)
class Arr:
    """One array of the state.

    Parameters
    ----------
    dtype : str
        ``"f4"``, ``"f8"``, ``"f"`` (either float), ``"i4"``, ``"i8"``, ``"i"`` (any signed
        int), ``"iu"``, ``"U"`` (text), ``"b"``, ``"label"`` (any plain dtype), ``"num"``.
    shape : tuple or list of tuple, default=None
        Entries are dimension names, ints or ``None`` (free); a list gives alternatives.
        ``None`` accepts any shape.
    index : str, default=None
        Values index into this dimension: they must lie in ``[0, dims[index])``.
    sentinel : int, default=None
        A value allowed besides the index range (``-1`` for "none").
    finite : bool, default=True
        Float values must be finite.
    min : float, default=None
        Smallest allowed value.
    unique : bool, default=False
        Values must be distinct.
    optional : bool, default=False
        The array may be absent.
    """

    dtype: str
    shape: Any = None
    index: str | None = None
    sentinel: int | None = None
    finite: bool = True
    min: float | None = None
    unique: bool = False
    optional: bool = False

    def check_shape(self, ctx: _Ctx, what: str, a: np.ndarray) -> None:
        """Check ``a``'s dtype and shape, binding the named dimensions it mentions.

        Parameters
        ----------
        ctx : _Ctx
            What the check has bound so far (dimensions); raises through ``ctx.fail``.
        what : str
            Name of the array, for messages.
        a : ndarray
            The array read from the artifact.
        """
        kinds, sizes = _DTYPES[self.dtype]
        if a.dtype.kind not in kinds or (sizes is not None and a.dtype.itemsize not in sizes):
            ctx.fail(what, f"dtype must be {self.dtype}; got {a.dtype.str}")
        if self.shape is None:
            return
        options = self.shape if isinstance(self.shape, list) else [self.shape]
        fitting = [s for s in options if len(s) == a.ndim and all(
            not isinstance(d, int) or d == n for d, n in zip(s, a.shape))]
        if not fitting:
            ctx.fail(what, f"shape must be {' or '.join(map(_fmt_shape, options))}; got {a.shape}")
        for d, n in zip(fitting[0], a.shape):
            if isinstance(d, str):
                ctx.bind(d, n, what)

    def check_values(self, ctx: _Ctx, what: str, a: np.ndarray) -> None:
        """Check ``a``'s values: index ranges, finiteness and uniqueness.

        Parameters
        ----------
        ctx : _Ctx
            What the check has bound so far (dimensions); raises through ``ctx.fail``.
        what : str
            Name of the array, for messages.
        a : ndarray
            The array read from the artifact.
        """
        if a.size == 0:
            return
        if a.dtype.kind == "f" and self.finite and not _all_finite(a):
            ctx.fail(what, "values must be finite (no NaN or inf)")
        if self.index is not None:
            hi = ctx.dims.get(self.index)
            if hi is None:
                ctx.fail(what, f"dimension {self.index} is unknown")
            vals = a if self.sentinel is None else a[a != self.sentinel]
            if vals.size and (vals.min() < 0 or vals.max() >= hi):
                ctx.fail(what, f"values must be in [0, {self.index}={hi})"
                         + (f" or {self.sentinel}" if self.sentinel is not None else "")
                         + f"; got min {vals.min()}, max {vals.max()}")
        if self.min is not None and a.dtype.kind in "biuf" and a.min() < self.min:
            ctx.fail(what, f"values must be >= {self.min}; got {a.min()}")
        if self.unique and len(np.unique(a)) != a.size:
            ctx.fail(what, "values must be distinct")


def _all_finite(a: np.ndarray) -> bool:
    # in blocks: a temporary the size of a multi-GB factor matrix is not needed
    flat = a.reshape(-1)
    step = 1 << 22
    return all(np.isfinite(flat[i:i + step]).all() for i in range(0, flat.size, step))


def _fmt_shape(s: tuple) -> str:
    return "(" + ", ".join("*" if d is None else str(d) for d in s) + ("," if len(s) == 1 else "") + ")"


@dataclass(frozen=True)
class Attr:
    """One JSON attribute of the state.

    Parameters
    ----------
    types : type or tuple of types
        Allowed Python types (``bool`` never passes as ``int``).
    dim : str, default=None
        The value (an int) binds this dimension.
    options : tuple, default=None
        Allowed values.
    min, max : float, default=None
        Range of a number.
    finite : bool, default=True
        A float must be finite.
    optional : bool, default=False
        The attribute may be absent.
    items : Attr, default=None
        Check for each element of a list.
    length : str or int, default=None
        Length of a list (a dimension name or an int).
    """

    types: Any
    dim: str | None = None
    options: tuple | None = None
    min: float | None = None
    max: float | None = None
    finite: bool = True
    optional: bool = False
    items: "Attr | None" = None
    length: Any = None

    def check(self, ctx: _Ctx, what: str, v: Any) -> None:
        """Check one JSON attribute value.

        Parameters
        ----------
        ctx : _Ctx
            What the check has bound so far (dimensions); raises through ``ctx.fail``.
        what : str
            Name of the attribute, for messages.
        v : object
            The value from the artifact's header.
        """
        types = self.types if isinstance(self.types, tuple) else (self.types,)
        ok = any(_is(v, t) for t in types)
        if not ok:
            names = " or ".join("None" if t is type(None) else t.__name__ for t in types)
            ctx.fail(what, f"must be {names}; got {type(v).__name__} {_short(v)}")
        if self.options is not None and v not in self.options:
            ctx.fail(what, f"must be one of {list(self.options)}; got {_short(v)}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if isinstance(v, float) and self.finite and not math.isfinite(v):
                ctx.fail(what, f"must be finite; got {v}")
            if self.min is not None and v < self.min or self.max is not None and v > self.max:
                ctx.fail(what, f"must be in [{self.min}, {self.max}]; got {v}")
        if self.dim is not None:
            ctx.bind(self.dim, v, what)
        if isinstance(v, list):
            if self.length is not None:
                n = self.length if isinstance(self.length, int) else ctx.dims.get(self.length)
                if n is not None and len(v) != n:
                    ctx.fail(what, f"must have length {self.length}={n}; got {len(v)}")
            if self.items is not None:
                for i, x in enumerate(v):
                    self.items.check(ctx, f"{what}[{i}]", x)


def _is(v: Any, t: type) -> bool:
    if t is int:
        return isinstance(v, int) and not isinstance(v, bool)
    if t is float:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t is type(None):
        return v is None
    return isinstance(v, t)


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


@dataclass(frozen=True)
class Ids:
    """An :class:`~maaskit.utils._ids.IdIndex` saved as JSON meta plus an id array.

    Parameters
    ----------
    dim : str
        The number of ids binds this dimension.
    optional : bool, default=False
        The attribute may be absent.
    """

    dim: str
    optional: bool = False

    def check(self, ctx: _Ctx, name: str, meta: Any) -> None:
        """Check a saved id index: its JSON meta and the id array beside it.

        Parameters
        ----------
        ctx : _Ctx
            What the check has bound so far (dimensions); raises through ``ctx.fail``.
        name : str
            Attribute name.
        meta : object
            The attribute's JSON meta.
        """
        what = f"attribute {name!r}"
        if not isinstance(meta, dict) or meta.get("__object__") != "IdIndex":
            ctx.fail(what, "must be a saved IdIndex")
        if set(meta) - {"__object__", "kind", "dtype", "values"}:
            ctx.fail(what, f"unexpected fields {sorted(set(meta) - {'__object__', 'kind', 'dtype', 'values'})}")
        if meta.get("kind") not in ("user", "item", "id"):
            ctx.fail(what, f"kind must be 'user', 'item' or 'id'; got {_short(meta.get('kind'))}")
        dtype = meta.get("dtype")
        ints = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
        if dtype == "json":
            values = meta.get("values")
            if not isinstance(values, list) or not all(
                    isinstance(x, (int, float, str, bool)) for x in values):
                ctx.fail(what, "values must be a list of JSON scalars")
            if name in ctx.arrays:
                ctx.fail(f"array {name!r}", "must be absent for JSON ids")
            n = len(values)
            try:
                distinct = len(set(values)) == n
            except TypeError:
                distinct = False
        elif dtype in ("str", *ints):
            a = ctx.arrays.get(name)
            if a is None:
                ctx.fail(f"array {name!r}", "is missing")
            Arr("U" if dtype == "str" else "iu", (self.dim,)).check_shape(ctx, f"array {name!r}", a)
            n = len(a)
            distinct = len(np.unique(a)) == n
        else:
            ctx.fail(what, f"dtype must be 'str', 'json' or an integer dtype; got {_short(dtype)}")
        ctx.bind(self.dim, n, what)
        if not distinct:
            ctx.fail(what, "ids must be distinct")


@dataclass(frozen=True)
class Rule:
    """A structural check that no single array can express.

    Parameters
    ----------
    what : str
        The array or attribute the rule is about.
    doc : str
        The rule, as the error message states it.
    test : callable
        ``test(dims, attrs, arrays, params) -> bool``; ``False`` is a violation.
    """

    what: str
    doc: str
    test: Callable[..., bool]

    def check(self, ctx: _Ctx) -> None:
        """Apply this rule to the artifact's state.

        Parameters
        ----------
        ctx : _Ctx
            What the check has bound so far (dimensions); raises through ``ctx.fail``.
        """
        try:
            ok = self.test(ctx.dims, ctx.attrs, ctx.arrays, ctx.params)
        except (KeyError, TypeError, ValueError, IndexError):
            ok = False
        if not ok:
            ctx.fail(self.what, self.doc)


@dataclass(frozen=True)
class CSR:
    """A CSR matrix kept as three arrays, checked as a whole.

    ``indptr`` has length ``rows + 1``, starts at 0, never decreases and ends at ``nnz``;
    ``indices`` lie in ``[0, cols)``.

    Parameters
    ----------
    indptr : str
        Name of the row-pointer array.
    indices : str
        Name of the column-index array.
    rows : str
        Dimension giving the number of rows.
    cols : str
        Dimension giving the number of columns.
    data : str, default=None
        Name of the values array, which must have ``nnz`` entries.
    """

    indptr: str
    indices: str
    rows: str
    cols: str
    data: str | None = None

    def check(self, ctx: _Ctx) -> None:
        """Apply this rule to the artifact's state.

        Parameters
        ----------
        ctx : _Ctx
            What the check has bound so far (dimensions); raises through ``ctx.fail``.
        """
        p, ix = ctx.arrays.get(self.indptr), ctx.arrays.get(self.indices)
        if p is None or ix is None:
            return  # optional pair absent; presence is the arrays' business
        what = f"array {self.indptr!r}"
        rows = ctx.dims.get(self.rows)
        if p.ndim != 1 or ix.ndim != 1 or rows is None or len(p) != rows + 1:
            ctx.fail(what, f"must have length {self.rows}+1={None if rows is None else rows + 1}; got {p.shape}")
        if p[0] != 0:
            ctx.fail(what, f"CSR indptr must start at 0; got {p[0]}")
        if (np.diff(p) < 0).any():
            ctx.fail(what, "CSR indptr must be non-decreasing")
        if p[-1] != len(ix):
            ctx.fail(what, f"CSR indptr must end at nnz={len(ix)}; got {p[-1]}")
        if self.data is not None and self.data in ctx.arrays and len(ctx.arrays[self.data]) != len(ix):
            ctx.fail(f"array {self.data!r}", f"must have nnz={len(ix)} entries")
        Arr("i", index=self.cols).check_values(ctx, f"array {self.indices!r}", ix)


@dataclass(frozen=True)
class Forest:
    """Flat trees: ``offsets`` (n_trees + 1) split the node arrays into trees; inside tree
    ``[s, e)``, a split node's children lie in ``(node, e)`` (so every path ends: acyclic),
    its feature in ``[0, n_features)``; a leaf has both children and its feature at -1."""

    offsets: str = "tree_offsets_"
    left: str = "tree_left_"
    right: str = "tree_right_"
    feature: str = "tree_feature_"

    def check(self, ctx: _Ctx) -> None:
        off = ctx.arrays[self.offsets]
        left, right, feat = (ctx.arrays[k] for k in (self.left, self.right, self.feature))
        n = len(left)
        what = f"array {self.offsets!r}"
        if len(off) < 2 or off[0] != 0 or off[-1] != n or (np.diff(off) <= 0).any():
            ctx.fail(what, f"tree offsets must start at 0, increase strictly and end at n_nodes={n}")
        tree_end = np.repeat(off[1:], np.diff(off))
        node = np.arange(n)
        leaf = left < 0
        if ((left < 0) != (right < 0)).any() or (left[leaf] != -1).any() or (right[leaf] != -1).any():
            ctx.fail(f"array {self.left!r}", "a leaf has left == right == -1, a split node two children")
        split = ~leaf
        for name, child in ((self.left, left), (self.right, right)):
            c = child[split]
            if ((c <= node[split]) | (c >= tree_end[split])).any():
                ctx.fail(f"array {name!r}", "children must lie after their parent inside the same tree "
                         "(in range and acyclic)")
        nf = ctx.dims["n_features"]
        if (feat[leaf] != -1).any() or ((feat[split] < 0) | (feat[split] >= nf)).any():
            ctx.fail(f"array {self.feature!r}", f"split features must be in [0, n_features={nf}) and leaves -1")


@dataclass(frozen=True)
class Net:
    """A layer stack saved as ``architecture`` (JSON) + a flat ``params`` array: every layer
    type is a registered one with a plain configuration, shapes are rebuilt without
    allocating, activations stay under :data:`MAX_ACTIVATION` elements per sample, and the
    parameter count matches ``params``."""

    architecture: str
    input_shape: str
    params: str
    outputs: str | None = None
    #: Array of the layers' non-trained state (batch-norm running statistics), if any.
    buffers: str | None = None

    def check(self, ctx: _Ctx) -> None:
        from .neural_network._layers import _LAYER_TYPES

        arch, shape = ctx.attrs.get(self.architecture), ctx.attrs.get(self.input_shape)
        what = f"attribute {self.architecture!r}"
        if not isinstance(arch, list) or not arch or not all(isinstance(c, dict) for c in arch):
            ctx.fail(what, "must be a non-empty list of layer configurations")
        if not isinstance(shape, list) or not shape or len(shape) > 4 or not all(
                _is(d, int) and 1 <= d <= MAX_LAYER_INT for d in shape) or math.prod(shape) > MAX_ACTIVATION:
            ctx.fail(f"attribute {self.input_shape!r}", "must be a list of 1 to 4 positive ints, "
                     f"at most {MAX_ACTIVATION} elements in all")
        shape = tuple(shape)
        total = n_buffers = 0
        for i, cfg in enumerate(arch):
            cls = _LAYER_TYPES.get(cfg.get("type"))
            w = f"{what}[{i}]"
            if cls is None:
                ctx.fail(w, f"layer type must be one of {sorted(_LAYER_TYPES)}; got {_short(cfg.get('type'))}")
            extra = set(cfg) - {"type", *cls._config_keys}
            if extra:
                ctx.fail(w, f"unexpected keys {sorted(extra)}")
            for k, v in cfg.items():
                if k == "type":
                    continue
                if _is(v, int):
                    if not 0 <= v <= MAX_LAYER_INT:
                        ctx.fail(w, f"{k} must be in [0, {MAX_LAYER_INT}]; got {v}")
                elif isinstance(v, list):
                    if len(v) > 4 or not all(_is(x, int) and 1 <= x <= MAX_LAYER_INT for x in v):
                        ctx.fail(w, f"{k} must be a short list of positive ints")
                elif isinstance(v, float):
                    # The float settings of layers (dropout rate, batch-norm momentum and eps)
                    # are fractions; rate 1 would divide by zero, eps 0 take sqrt of 0 variance.
                    if not (math.isfinite(v) and 0.0 <= v <= 1.0) or (k == "rate" and v >= 1.0) \
                            or (k == "eps" and v <= 0.0):
                        ctx.fail(w, f"{k} must be a finite fraction in [0, 1] (rate < 1, eps > 0); "
                                    f"got {_short(v)}")
                elif not (v is None or isinstance(v, (bool, str))):
                    ctx.fail(w, f"{k} must be an int, a float, a str, a bool or null; got {_short(v)}")
            try:
                layer = cls(**{k: v for k, v in cfg.items() if k != "type"})
                shape = tuple(layer.build(shape))
                pshapes = layer.param_shapes()
                n_buffers += sum(math.prod(bs) for _, bs in layer.buffer_shapes())
            except (TypeError, ValueError, KeyError, ZeroDivisionError, IndexError) as exc:
                ctx.fail(w, f"invalid layer ({type(exc).__name__}: {exc})")
            if not shape or not all(_is(int(d), int) and d >= 1 for d in shape) or math.prod(shape) > MAX_ACTIVATION:
                ctx.fail(w, f"output shape {shape} must be positive and at most {MAX_ACTIVATION} elements")
            total += sum(math.prod(s) for _, s in pshapes)
        p = ctx.arrays.get(self.params)
        if p is None or p.ndim != 1 or p.size != total:
            ctx.fail(f"array {self.params!r}", f"must hold the {total} parameters of the architecture; "
                     f"got shape {None if p is None else p.shape}")
        if self.buffers is not None:
            b = ctx.arrays.get(self.buffers)
            if n_buffers and (b is None or b.ndim != 1 or b.size != n_buffers or b.dtype != p.dtype):
                ctx.fail(f"array {self.buffers!r}", f"must hold the {n_buffers} running statistics of the "
                         f"architecture in the dtype of {self.params!r}; got "
                         f"{None if b is None else (b.shape, b.dtype.str)}")
            if not n_buffers and b is not None and b.size:
                ctx.fail(f"array {self.buffers!r}", "must be empty: the architecture has no running statistics")
        ctx.dims[f"{self.params}:out_size"] = math.prod(shape)  # for later rules
        if self.outputs is not None and shape[-1] != ctx.dims.get(self.outputs, shape[-1]):
            ctx.fail(what, f"last layer must have {self.outputs}={ctx.dims[self.outputs]} outputs; got {shape}")


@dataclass(frozen=True)
class Nested:
    """The state of a wrapped estimator: its class chosen by ``choose(attrs)``, its params in
    ``attrs[params_attr]``, its attrs in ``attrs[attrs_attr]``, its arrays prefixed."""

    choose: Callable[[dict], type | None]
    params_attr: str
    attrs_attr: str
    prefix: str

    def check(self, ctx: _Ctx) -> None:
        inner = self.choose(ctx.attrs)
        if inner is None:
            ctx.fail("header", "names no known wrapped algorithm")
        p, a = ctx.attrs.get(self.params_attr), ctx.attrs.get(self.attrs_attr)
        if not isinstance(p, dict) or not isinstance(a, dict):
            ctx.fail(f"attribute {self.attrs_attr!r}", "must be a JSON object")
        arrays = {k[len(self.prefix):]: v for k, v in ctx.arrays.items() if k.startswith(self.prefix)}
        check_state(inner, p, a, arrays)


@dataclass(frozen=True)
class StateSchema:
    """What a class's saved state must satisfy (see the module docstring).

    Parameters
    ----------
    arrays : dict of str to Arr
    attrs : dict of str to Attr or Ids
    rules : tuple of CSR, Forest, Net, Nested or Rule
    patterns : dict of str to Arr
        Arrays matched by a glob pattern (``"_opt_*"``).
    param_dims : dict of str to str
        Hyper-parameters whose (int) value must equal a dimension.
    """

    arrays: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)
    rules: tuple = ()
    patterns: dict = field(default_factory=dict)
    param_dims: dict = field(default_factory=dict)

    def extend(self, *, arrays: dict | None = None, attrs: dict | None = None, rules: tuple = (),
               patterns: dict | None = None, param_dims: dict | None = None,
               drop: tuple = ()) -> "StateSchema":
        """A schema with more (or replaced) entries; ``drop`` removes names.

        Parameters
        ----------
        arrays : dict, default=None
            Arrays to add or replace.
        attrs : dict, default=None
            Attributes to add or replace.
        rules : tuple, default=()
            Rules to append.
        patterns : dict, default=None
            Glob-named arrays to add or replace.
        param_dims : dict, default=None
            Hyper-parameters bound to dimensions, to add or replace.
        drop : tuple, default=()
            Array or attribute names to remove.

        Returns
        -------
        schema : StateSchema
            A new schema; this one is unchanged.
        """
        arr = {**self.arrays, **(arrays or {})}
        att = {**self.attrs, **(attrs or {})}
        for k in drop:
            arr.pop(k, None)
            att.pop(k, None)
        return replace(self, arrays=arr, attrs=att, rules=self.rules + tuple(rules),
                       patterns={**self.patterns, **(patterns or {})},
                       param_dims={**self.param_dims, **(param_dims or {})})


def _check_params(cls: type, params: dict, ctx: _Ctx) -> dict:
    from .utils._param_validation import validate_parameters

    defaults = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        ctx.fail("header params", f"unknown hyper-parameter(s) {unknown}")
    out = {}
    for k, v in params.items():
        # JSON has no tuples: give back the type of the default (hidden_layer_sizes ...)
        if isinstance(v, list) and isinstance(defaults[k], tuple):
            v = tuple(v)
        if not (v is None or isinstance(v, (bool, int, float, str, tuple, list, dict))):
            ctx.fail(f"header param {k!r}", f"must be a JSON value; got {type(v).__name__}")
        out[k] = v
    # a parameter the file leaves out takes its default, and is checked like the others
    out = {**{k: v for k, v in defaults.items() if k not in out}, **out}
    try:
        validate_parameters(cls(**out))
    except (ValueError, TypeError) as exc:
        ctx.fail("header params", str(exc).rstrip("."))
    return out


def check_state(cls: type, params: dict, attrs: dict, arrays: dict[str, np.ndarray]) -> dict:
    """Check an artifact's state against ``cls._state_schema``; return the checked params.

    Parameters
    ----------
    cls : type
        The (allow-listed) estimator class.
    params, attrs : dict
        From the header.
    arrays : dict of str to ndarray

    Returns
    -------
    params : dict
        Ready for ``cls(**params)`` (JSON lists turned back into tuples where the default is one).

    Raises
    ------
    ArtifactError
        Naming the array or attribute and the rule it breaks.
    """
    schema: StateSchema | None = getattr(cls, "_state_schema", None)
    ctx = _Ctx(cls.__name__, params, attrs, arrays)
    if schema is None:
        ctx.fail("state", "this class declares no state schema, so it cannot be loaded")
    params = _check_params(cls, params, ctx)
    ctx.params = params
    ids = {k: v for k, v in schema.attrs.items() if isinstance(v, Ids)}
    for name in attrs:
        if name not in schema.attrs:
            ctx.fail(f"attribute {name!r}", f"is not part of a {cls.__name__} state")
    for name in arrays:
        if name not in schema.arrays and name not in ids and not any(
                fnmatch.fnmatchcase(name, p) for p in schema.patterns):
            ctx.fail(f"array {name!r}", f"is not part of a {cls.__name__} state")
    for name, spec in schema.attrs.items():
        if name not in attrs:
            if not spec.optional:
                ctx.fail(f"attribute {name!r}", "is missing")
            continue
        spec.check(ctx, name if isinstance(spec, Ids) else f"attribute {name!r}", attrs[name])
    specs = [(n, s) for n, s in schema.arrays.items()]
    specs += [(n, s) for n in arrays for p, s in schema.patterns.items() if fnmatch.fnmatchcase(n, p)]
    for name, spec in specs:
        if name not in arrays:
            if not spec.optional:
                ctx.fail(f"array {name!r}", "is missing")
            continue
        spec.check_shape(ctx, f"array {name!r}", arrays[name])
    for pname, dim in schema.param_dims.items():
        v = params.get(pname)
        if v is not None and dim in ctx.dims and v != ctx.dims[dim]:
            ctx.fail(f"header param {pname!r}", f"must equal {dim}={ctx.dims[dim]}; got {v!r}")
    for name, spec in specs:
        if name in arrays:
            spec.check_values(ctx, f"array {name!r}", arrays[name])
    for rule in schema.rules:
        rule.check(ctx)
    return params


def history(*keys: str) -> Rule:
    """A training history: a dict of exactly ``keys``, each a list of numbers (NaN/inf allowed)."""
    def ok(d: dict, attrs: dict, arrays: dict, params: dict) -> bool:
        h = attrs["history_"]
        return set(h) == set(keys) and all(
            isinstance(h[k], list) and all(is_number(x) for x in h[k]) for k in keys)
    return Rule("attribute 'history_'", f"must be a dict of number lists {list(keys)}", ok)


def positive_int(dim: str | None = None, **kw: Any) -> Attr:
    """An int >= 0 (optionally binding ``dim``)."""
    return Attr(int, dim=dim, min=0, **kw)


def number(**kw: Any) -> Attr:
    """A finite float (or int)."""
    return Attr(float, **kw)


def is_number(v: Any) -> bool:
    """Whether ``v`` is a real number, not a bool."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool)
