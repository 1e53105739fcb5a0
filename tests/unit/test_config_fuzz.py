"""Fuzz the config loader through the command line: whatever the file holds, `zabbix-sepa`
exits 0, or 2 with one `zabbix-sepa: ...` message, and never with a traceback.

A few hundred variants from a fixed seed (so a failure reproduces): structural mutations of
config.example.yaml (keys dropped, renamed, added; values replaced by odd ones), textual
mutations of its YAML (lines cut, doubled, re-indented; stray characters and bytes), and random
structures. Each is loaded by `zabbix-sepa db-grants --config F`, which loads the config and
nothing else (no database, no network), in this process.
"""
import contextlib
import io
import os
import random

import yaml

from zabbix_sepa import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = 20260114
STRUCTURAL, TEXTUAL, RANDOM = 130, 100, 70

ODD_VALUES = [
    None, "", " ", "x", "0123", "-1", "/abs/path", "relative/path", "~", "é☃\u202e", "a\tb", "a\nb",
    0, -1, 1, 3306, 65536, 2**63, 10**30, 1.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan"),
    True, False, [], {}, [1, "a"], {"a": 1}, [[[]]], {"name": "x"}, {"url": "http://x"},
    "http://127.0.0.1/api_jsonrpc.php", "Europe/Amsterdam", "../../etc/passwd", "UTC\x00", "A" * 5000,
]
ODD_KEYS = ["", "x", "name", "password", "token", "sites", "url", "<<", "0", "é", "a.b", "sites[0]"]
YAML_SNIPPETS = [
    "{", "}", "[", "]", ":", ": ", "- ", "&a ", "*a", "*nope", "!!python/object:os.system ", "!!binary ",
    "!!int ", "!!str ", "!!float ", "!!timestamp ", "!!set ", "? ", "|", ">", "'", '"', "#", "%YAML 1.1\n",
    "---\n", "...\n", "<<: *a\n", "\t", "\x00", "\x85", "\ufeff", "0x" + "f" * 5000, "9" * 5000,
    "2024-13-45", "1:2:3:4", ".nan", "-.inf", "~", "null", "yes", "0o17", "0b102",
]
RAW_BYTES = [b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\x80", b"\xf4\x90\x80\x80"]


def example_text(tmp_path):
    """config.example.yaml with its commented keys switched on and the secret files present."""
    with open(os.path.join(ROOT, "config.example.yaml"), encoding="utf-8") as fh:
        text = fh.read()
    for name in ("db-password", "api-token", "zabbix.psk"):
        secret = tmp_path / name
        secret.write_text("ab" * 32 + "\n")
        os.chmod(secret, 0o600)
        text = text.replace(f"/etc/zabbix-sepa/{name}", str(secret))
    return text


def paths(node, prefix=()):
    """Every (path, value) in a loaded document."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


def random_value(rng, depth=0):
    kind = rng.random()
    if depth > 3 or kind < 0.5:
        return rng.choice(ODD_VALUES)
    if kind < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(ODD_KEYS + ["k%d" % rng.randint(0, 9)]): random_value(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


def structural(rng, base):
    doc = yaml.safe_load(base)
    for _ in range(rng.randint(1, 3)):
        spots = [(p, v) for p, v in paths(doc) if p]
        path, _ = rng.choice(spots)
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        op = rng.random()
        if op < 0.25:
            del parent[last]
        elif op < 0.7:
            parent[last] = random_value(rng)
        elif op < 0.8 and isinstance(parent, dict):
            parent[rng.choice(ODD_KEYS)] = parent.pop(last)
        elif op < 0.9 and isinstance(parent, dict):
            parent[rng.choice(ODD_KEYS)] = random_value(rng)
        else:
            parent[last] = [parent[last]] if rng.random() < 0.5 else {"x": parent[last]}
    if rng.random() < 0.2 and isinstance(doc.get("sites"), list) and doc["sites"]:
        doc["sites"].append(dict(doc["sites"][0]) if isinstance(doc["sites"][0], dict) else doc["sites"][0])
    return yaml.safe_dump(doc, allow_unicode=rng.random() < 0.5).encode("utf-8")


def textual(rng, base):
    lines = base.splitlines(keepends=True)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(lines))
        op = rng.random()
        if op < 0.2 and len(lines) > 1:
            del lines[i]
        elif op < 0.35:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op < 0.5:
            lines[i] = " " * rng.choice([1, 2, 3, 8]) + lines[i] if rng.random() < 0.5 else lines[i].lstrip()
        elif op < 0.65 and "#" in lines[i]:
            lines[i] = lines[i].replace("# ", "", 1)        # switch on a commented key, as a user would
        else:
            line = lines[i]
            at = rng.randint(0, len(line))
            lines[i] = line[:at] + rng.choice(YAML_SNIPPETS) + line[at:]
    data = "".join(lines).encode("utf-8")
    if rng.random() < 0.15:
        at = rng.randint(0, len(data))
        data = data[:at] + rng.choice(RAW_BYTES) + data[at:]
    if rng.random() < 0.1:
        data = data[:rng.randint(0, len(data))]
    return data


def random_structure(rng):
    doc = random_value(rng)
    if rng.random() < 0.6:                   # shaped like a config, filled at random
        doc = {"sites": [{"name": rng.choice(["a", "b", 1, None, "x y"]),
                          "database": random_value(rng) if rng.random() < 0.5 else
                          {"name": "d", "user": "u", "password": random_value(rng)}}],
               rng.choice(ODD_KEYS + ["zabbix", "alerts", "health", "redis", "thresholds"]): random_value(rng)}
    if rng.random() < 0.3:
        return "".join(rng.choice(YAML_SNIPPETS) + rng.choice(["", " ", "\n", "  "])
                       for _ in range(rng.randint(1, 12))).encode("utf-8")
    try:
        return yaml.safe_dump(doc).encode("utf-8")
    except (ValueError, yaml.YAMLError):
        return repr(doc).encode("utf-8")


def variants(tmp_path):
    rng = random.Random(SEED)
    base = example_text(tmp_path)
    for i in range(STRUCTURAL):
        yield f"structural #{i}", structural(rng, base)
    for i in range(TEXTUAL):
        yield f"textual #{i}", textual(rng, base)
    for i in range(RANDOM):
        yield f"random #{i}", random_structure(rng)


def run(path):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(["db-grants", "--config", path])
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def test_every_variant_exits_0_or_2_with_a_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = str(tmp_path / "config.yaml")
    seen = {0: 0, 2: 0}
    for name, data in variants(tmp_path):
        with open(path, "wb") as fh:
            fh.write(data)
        os.chmod(path, 0o600)
        shown = data[:600].decode("utf-8", "backslashreplace")
        try:
            rc, out, err = run(path)
        except BaseException as exc:      # what would have been a traceback
            raise AssertionError(f"{name}: {exc.__class__.__name__}: {str(exc)[:300]}\n--- config ---\n"
                                 f"{shown}") from exc
        assert rc in (0, 2), f"{name}: exit {rc}\n{err}\n--- config ---\n{shown}"
        if rc == 0:
            assert out.startswith("GRANT SELECT ON "), f"{name}: {out[:300]}"
        else:
            assert err.startswith("zabbix-sepa: ") and len(err.strip()) > len("zabbix-sepa: "), \
                f"{name}: {err!r}\n--- config ---\n{shown}"
            assert "Traceback" not in err and len(err) < 2000, f"{name}: {err[:500]}"
        seen[rc] += 1
    # the mutations reach past the parser: some variants are valid, most are not
    assert seen[0] >= 20 and seen[2] >= 150, seen
