"""The test tree itself: pytest imports test modules by basename (no packages below tests/),
so two files with one name in unit/ and integration/ break collection of the whole suite."""
import collections
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_test_module_basenames_are_unique():
    names = collections.Counter(f for d in ("unit", "integration") for f in os.listdir(os.path.join(ROOT, d))
                                if f.startswith("test_") and f.endswith(".py"))
    assert [n for n, c in names.items() if c > 1] == []
