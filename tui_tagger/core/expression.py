"""The one-line image expression of the inspect view ("a line of python to change / enhance the image").

A small, safe subset of Python over two names, ``img`` (float32 2-D) and ``mask`` (bool, True = valid
pixel): numbers, arithmetic, comparisons, ``& | ~``, constant slices, and calls of a whitelist of numpy /
scipy.ndimage functions. The text is parsed with ``ast`` and every node checked against the whitelist
before anything runs; it is never passed to eval. Nothing can import, reach attributes or dunders,
define functions, loop, or allocate more than a few image-sized arrays:

- text at most 300 characters and 120 syntax nodes;
- number literals are float64 (``9**9**9`` overflows to inf at once instead of computing a huge int),
  at most 1e12 in size;
- a constant exponent is at most 64 in size; filter widths are bounded (``gaussian_filter`` sigma <= 20,
  ``median_filter`` size <= 9) and at most 3 filters run per expression;
- the result must be a 2-D array of the image's shape (a scalar is broadcast) with a finite value
  somewhere among the valid pixels.

Reductions (``median mean std min max sum percentile``) ignore masked and non-finite pixels.
Anything else raises ExpressionError with a one-line reason; the caller keeps its old image.
"""

from __future__ import annotations

import ast
import math
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from tui_tagger.core.errors import ExpressionError

MAX_CHARS = 300
MAX_NODES = 120
MAX_CONSTANT = 1e12
MAX_EXPONENT = 64
MAX_SIGMA = 20.0
MAX_MEDIAN_SIZE = 9
# filters cost up to a second or so each on a large frame: a few per expression at most
COSTLY = ("gaussian_filter", "median_filter", "background")
MAX_COSTLY_CALLS = 3

Evaluator = Callable[[dict[str, Any]], Any]


# --- functions ----------------------------------------------------------------------------------


def _valid_values(x: Any, env: dict[str, Any]) -> np.ndarray:
    """The finite values of ``x`` at valid pixels (x may be the image or anything derived from it)."""
    x = np.asarray(x, dtype=np.float64)
    keep = np.isfinite(x)
    if x.shape == env["mask"].shape:
        keep &= env["mask"]
    return x[keep]


def _reduction(fn: Callable[[np.ndarray], Any]) -> Callable[..., Any]:
    def reduce(env: dict[str, Any], x: Any) -> float:
        values = _valid_values(x, env)
        return float(fn(values)) if values.size else math.nan

    return reduce


def _percentile(env: dict[str, Any], x: Any, q: Any) -> float:
    q = _scalar(q, "percentile", "q")
    if not 0.0 <= q <= 100.0:
        raise ExpressionError(f"percentile: q must be between 0 and 100, not {q:g}")
    values = _valid_values(x, env)
    return float(np.percentile(values, q)) if values.size else math.nan


def _scalar(v: Any, fn: str, arg: str) -> float:
    a = np.asarray(v)
    if a.ndim != 0 or not np.isfinite(a):
        raise ExpressionError(f"{fn}: {arg} must be a finite number")
    return float(a)


def _gaussian_filter(env: dict[str, Any], x: Any, sigma: Any) -> np.ndarray:
    from scipy import ndimage

    s = _scalar(sigma, "gaussian_filter", "sigma")
    if not 0.0 < s <= MAX_SIGMA:
        raise ExpressionError(f"gaussian_filter: sigma must be in (0, {MAX_SIGMA:g}], not {s:g}")
    # NaN/inf would smear over the whole neighbourhood: filter with them (and masked pixels) as 0
    x = np.asarray(x, dtype=np.float32)
    return ndimage.gaussian_filter(np.where(np.isfinite(x), x, 0), s)


def _median_filter(env: dict[str, Any], x: Any, size: Any) -> np.ndarray:
    from scipy import ndimage

    s = _scalar(size, "median_filter", "size")
    if s != int(s) or not 1 <= s <= MAX_MEDIAN_SIZE:
        raise ExpressionError(f"median_filter: size must be a whole number from 1 to {MAX_MEDIAN_SIZE}")
    x = np.asarray(x, dtype=np.float32)
    return ndimage.median_filter(np.where(np.isfinite(x), x, 0), size=int(s))


def _round(env: dict[str, Any], x: Any, decimals: Any = 0) -> Any:
    d = _scalar(decimals, "round", "decimals")
    if d != int(d) or abs(d) > 12:
        raise ExpressionError("round: decimals must be a whole number from -12 to 12")
    return np.round(x, int(d))


def _clip(env: dict[str, Any], x: Any, lo: Any, hi: Any) -> Any:
    return np.clip(x, lo, hi)


def _background(env: dict[str, Any], x: Any) -> np.ndarray:
    """The isotropic (azimuthal median) background of ``x`` about the beam centre found in the image."""
    from tui_tagger.core.radial import isotropic_background

    x = np.asarray(x, dtype=np.float32)
    if x.shape != env["mask"].shape:
        raise ExpressionError("background: needs an image of the original shape")
    return isotropic_background(x, env["mask"], None)


def _elementwise(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(env: dict[str, Any], *args: Any) -> Any:
        return fn(*args)

    return call


# name -> (implementation taking env first, min args, max args)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    **{name: (_elementwise(getattr(np, name)), 1, 1) for name in (
        "log", "log1p", "log10", "log2", "exp", "sqrt", "abs", "sign", "floor", "ceil",
        "sin", "cos", "arctan", "isfinite", "isnan",
    )},
    **{name: (_elementwise(getattr(np, name)), 2, 2) for name in ("minimum", "maximum", "arctan2", "hypot")},
    "where": (_elementwise(np.where), 3, 3),
    "clip": (_clip, 3, 3),
    "round": (_round, 1, 2),
    "median": (_reduction(np.median), 1, 1),
    "mean": (_reduction(np.mean), 1, 1),
    "std": (_reduction(np.std), 1, 1),
    "min": (_reduction(np.min), 1, 1),
    "max": (_reduction(np.max), 1, 1),
    "sum": (_reduction(np.sum), 1, 1),
    "percentile": (_percentile, 2, 2),
    "gaussian_filter": (_gaussian_filter, 2, 2),
    "median_filter": (_median_filter, 2, 2),
    "background": (_background, 1, 1),
}
CONSTANTS = {"pi": math.pi, "e": math.e, "nan": math.nan, "inf": math.inf}
VARIABLES = ("img", "mask")

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
    ast.BitAnd: np.logical_and,
    ast.BitOr: np.logical_or,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: np.negative, ast.UAdd: np.positive, ast.Invert: np.logical_not}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}


# --- compiling ----------------------------------------------------------------------------------


def _describe(node: ast.AST) -> str:
    return {
        ast.Attribute: "attribute access (.name)",
        ast.Lambda: "lambda",
        ast.ListComp: "comprehensions",
        ast.GeneratorExp: "comprehensions",
        ast.SetComp: "comprehensions",
        ast.DictComp: "comprehensions",
        ast.BoolOp: "'and'/'or' (use & and | with parentheses)",
        ast.NamedExpr: "assignment",
        ast.IfExp: "'if ... else' (use where(cond, a, b))",
        ast.Starred: "*arguments",
    }.get(type(node), f"{type(node).__name__} syntax")


def _compile(node: ast.AST) -> Evaluator:
    """A closure evaluating ``node`` in an env {img, mask}; raises ExpressionError for anything not allowed."""
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ExpressionError(f"only numbers are allowed as constants, not {v!r}"[:120])
        if abs(v) > MAX_CONSTANT:
            raise ExpressionError(f"number too large: {v:g} (at most {MAX_CONSTANT:g})")
        value = np.float64(v)
        return lambda env: value
    if isinstance(node, ast.Name):
        name = node.id
        if name in VARIABLES:
            return lambda env: env[name]
        if name in CONSTANTS:
            value = np.float64(CONSTANTS[name])
            return lambda env: value
        if name in FUNCTIONS:
            raise ExpressionError(f"{name} is a function: call it, e.g. {name}(img)")
        raise ExpressionError(f"unknown name {name!r}; use img, mask, {', '.join(CONSTANTS)} and functions: {', '.join(FUNCTIONS)}")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        op = _BINOPS[type(node.op)]
        if isinstance(node.op, ast.Pow):
            _check_exponent(node.right)
        left, right = _compile(node.left), _compile(node.right)
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        uop, operand = _UNARY[type(node.op)], _compile(node.operand)
        if isinstance(node.op, ast.Invert):
            return lambda env: uop(np.asarray(operand(env), dtype=bool))
        return lambda env: uop(operand(env))
    if isinstance(node, ast.Compare) and all(type(o) in _COMPARE for o in node.ops):
        return _compile_compare(node)
    if isinstance(node, ast.Call):
        return _compile_call(node)
    if isinstance(node, ast.Subscript):
        return _compile_subscript(node)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
        raise ExpressionError("tuples, lists and dicts are not allowed")
    raise ExpressionError(f"not allowed: {_describe(node)}")


def _check_exponent(node: ast.AST) -> None:
    # A constant exponent (however written: 10**10, 2*40) is bounded. It is evaluated here with
    # float64 numpy scalars, which cannot take long. An array exponent (img ** img) just overflows.
    if any(isinstance(n, ast.Name) and n.id not in CONSTANTS for n in ast.walk(node)):
        return
    with np.errstate(all="ignore"):
        value = float(_compile(node)({}))
    if math.isnan(value):
        raise ExpressionError(f"the exponent is not a number (it works out to nan); use a number from "
                              f"-{MAX_EXPONENT} to {MAX_EXPONENT}")
    if math.isinf(value):
        raise ExpressionError(f"the exponent is infinite; use a number from -{MAX_EXPONENT} to {MAX_EXPONENT}")
    if not abs(value) <= MAX_EXPONENT:
        raise ExpressionError(f"exponent too large: {value:g} (at most {MAX_EXPONENT} in size)")


def _compile_compare(node: ast.Compare) -> Evaluator:
    parts = [_compile(node.left)] + [_compile(c) for c in node.comparators]
    ops = [_COMPARE[type(o)] for o in node.ops]

    def compare(env: dict[str, Any]) -> Any:
        values = [p(env) for p in parts]
        result = ops[0](values[0], values[1])
        for i in range(1, len(ops)):  # a < b < c means (a < b) & (b < c)
            result = np.logical_and(result, ops[i](values[i], values[i + 1]))
        return result

    return compare


def _compile_call(node: ast.Call) -> Evaluator:
    if not isinstance(node.func, ast.Name):
        raise ExpressionError(f"not allowed: calling {_describe(node.func)}")
    name = node.func.id
    if name not in FUNCTIONS:
        raise ExpressionError(f"unknown function {name!r}; allowed: {', '.join(FUNCTIONS)}")
    if node.keywords:
        raise ExpressionError(f"{name}: keyword arguments are not allowed")
    fn, lo, hi = FUNCTIONS[name]
    if not lo <= len(node.args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise ExpressionError(f"{name} takes {want} argument{'s' if hi > 1 else ''}, not {len(node.args)}")
    args = [_compile(a) for a in node.args]
    return lambda env: fn(env, *(a(env) for a in args))


def _slice_part(node: ast.AST | None) -> int | None:
    if node is None:
        return None
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 1 << 31:
        raise ExpressionError("slices take whole-number constants only, e.g. img[::-1, :]")
    return value


def _compile_subscript(node: ast.Subscript) -> Evaluator:
    # constant slices only (flips, shifts): the result must still have the image's shape
    parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if len(parts) > 2 or not all(isinstance(p, ast.Slice) for p in parts):
        raise ExpressionError("indexing takes up to two slices with constants, e.g. img[::-1, ::-1]")
    index = tuple(slice(_slice_part(p.lower), _slice_part(p.upper), _slice_part(p.step)) for p in parts)
    if any(s.step == 0 for s in index):
        raise ExpressionError("slice step cannot be zero")
    value = _compile(node.value)

    def subscript(env: dict[str, Any]) -> Any:
        v = np.asarray(value(env))
        if v.ndim < len(index):
            raise ExpressionError("cannot slice a number")
        return v[index]

    return subscript


@lru_cache(maxsize=64)
def _compiled(text: str) -> Evaluator:
    if len(text) > MAX_CHARS:
        raise ExpressionError(f"expression too long: {len(text)} characters (at most {MAX_CHARS})")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"syntax error{where}: {exc.msg}") from None
    except (ValueError, MemoryError, RecursionError):
        raise ExpressionError("expression cannot be parsed (too deeply nested?)") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ExpressionError(f"expression too complex: {count} syntax nodes (at most {MAX_NODES})")
    names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)]
    for name in names:  # defence in depth: nothing dunder-named gets near evaluation
        if name.startswith("_"):
            raise ExpressionError(f"name {name!r} is not allowed")
    if sum(name in COSTLY for name in names) > MAX_COSTLY_CALLS:
        raise ExpressionError(f"at most {MAX_COSTLY_CALLS} calls of {', '.join(COSTLY)} per expression")
    return _compile(tree.body)


def compile_expression(text: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Check ``text`` now (ExpressionError when not allowed) and return ``f(img, mask) -> float32 image``."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty expression")
    text = text.strip()
    evaluate = _compiled(text)

    def run(img: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        img = np.asarray(img, dtype=np.float32)
        if img.ndim != 2:
            raise ExpressionError(f"expression needs a 2-D image, not shape {img.shape}")
        mask = np.isfinite(img) if mask is None else (np.asarray(mask, dtype=bool) & np.isfinite(img))
        # read-only views: no function in the whitelist writes in place, but make sure of it
        img_ro = img.view()
        img_ro.flags.writeable = False
        mask_ro = mask.view()
        mask_ro.flags.writeable = False
        env = {"img": img_ro, "mask": mask_ro}
        try:
            with np.errstate(all="ignore"):
                result = evaluate(env)
        except ExpressionError:
            raise
        except MemoryError:
            raise ExpressionError(f"{text!r}: out of memory") from None
        except Exception as exc:  # numpy shape mismatches, bad dtypes...
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise ExpressionError(f"{text!r}: {reason}") from None
        return _checked_result(text, result, img.shape, mask)

    return run


def _checked_result(text: str, result: Any, shape: tuple[int, ...], mask: np.ndarray) -> np.ndarray:
    out = np.asarray(result)
    if out.dtype.kind not in "biuf":
        raise ExpressionError(f"{text!r}: result is not numeric ({out.dtype})")
    if out.ndim == 0:
        out = np.full(shape, out, dtype=np.float32)
    elif out.shape != shape:
        raise ExpressionError(f"{text!r}: result has shape {out.shape}, the image is {shape}")
    with np.errstate(all="ignore"):
        out = out.astype(np.float32)  # float64 beyond float32 range becomes inf: shown as masked
    if not np.isfinite(out[mask]).any():
        raise ExpressionError(f"{text!r}: result has no finite value on the image's valid pixels")
    return out


def apply_expression(text: str, img: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """``compile_expression(text)(img, mask)``: a float32 image of img's shape, or ExpressionError."""
    return compile_expression(text)(img, mask)
