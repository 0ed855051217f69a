"""The package's shape, checked from its source: sizes, layers, imports.

* No module of ``arsam_mm`` over 450 lines and no class over 300.
* The torch-only core (``arsam_mm.core``) imports only torch, the standard
  library and itself (the import test in ``test_compat.py`` checks the same
  from a fresh interpreter).
* The subpackages form no import cycle, function-level imports included.
"""
import ast
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'arsam_mm'
MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 300


def _modules() -> Dict[str, Path]:
    """Dotted name -> file of every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob('*.py')):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts.pop()
        found['.'.join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Set[str]:
    """Absolute names of everything ``name`` imports, anywhere in it."""
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                if node.module:
                    base.append(node.module)
                module = '.'.join(base)
            else:
                module = node.module
            out.add(module)
            out.update(f'{module}.{alias.name}' for alias in node.names
                       if f'{module}.{alias.name}' in MODULES)
        elif (isinstance(node, ast.Call)
              and getattr(node.func, 'attr', '') == 'import_module'
              and node.args and isinstance(node.args[0], ast.Constant)):
            target = node.args[0].value
            if target.startswith('.'):
                target = package + target
            out.add(target)
    return out


def _unit(module: str) -> str:
    """The subpackage (or top-level module) a module belongs to."""
    parts = module.split('.')
    return '.'.join(parts[:2])


def test_no_module_or_class_is_too_long():
    long = []
    for name, path in MODULES.items():
        source = path.read_text()
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES:
            long.append(f'{name}: {lines} lines')
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    long.append(f'{name}.{node.name}: {size} lines')
    assert not long, long


def test_core_imports_torch_and_itself_only():
    allowed = set(sys.stdlib_module_names) | {'torch', 'numpy'}
    bad = []
    for name, path in MODULES.items():
        if not name.startswith('arsam_mm.core'):
            continue
        for target in _imports(name, path):
            top = target.split('.')[0]
            if top == 'arsam_mm':
                if not target.startswith('arsam_mm.core'):
                    bad.append(f'{name} -> {target}')
            elif top not in allowed:
                bad.append(f'{name} -> {target}')
    assert not bad, bad


def _cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One cycle of ``graph`` as a list of nodes, or []."""
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_subpackages_import_no_cycle():
    """Between subpackages (``arsam_mm.core``, ``arsam_mm.engine``, ...);
    the package's ``__init__`` (lazy names) is left out."""
    graph: Dict[str, Set[str]] = {}
    for name, path in MODULES.items():
        if name == 'arsam_mm':
            continue
        unit = _unit(name)
        for target in _imports(name, path):
            if target.startswith('arsam_mm.') and _unit(target) != unit:
                graph.setdefault(unit, set()).add(_unit(target))
    assert _cycle(graph) == [], _cycle(graph)


@pytest.mark.parametrize('graph,cyclic', [
    ({'a': {'b'}, 'b': {'c'}}, False),
    ({'a': {'b'}, 'b': {'a'}}, True),
    ({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}, True),
])
def test_cycle_finder(graph, cyclic):
    assert bool(_cycle(graph)) is cyclic
