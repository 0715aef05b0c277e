"""Print the app's requirements, one pip argument line per requirement.

requirements.txt wins (its significant lines are passed to pip as
"-r requirements.txt"); else [project].dependencies of pyproject.toml; else
[packages] of Pipfile. Prints nothing when there is nothing to install.
"""
import os
import sys


def significant(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            s = line.strip()
            if s and not s.startswith("#"):
                return True
    return False


def load_toml(path):
    try:
        import tomllib
    except ImportError:
        try:
            import tomli as tomllib
        except ImportError:
            sys.exit("reading %s needs Python 3.11 or newer (tomllib)" % os.path.basename(path))
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except Exception as e:  # noqa: BLE001 - report any parse error
            sys.exit("%s is not valid TOML: %s" % (os.path.basename(path), e))


def pipfile_spec(name, v):
    if isinstance(v, str):
        return name if v.strip() in ("", "*") else name + v.strip()
    if isinstance(v, dict):
        extras = v.get("extras") or []
        base = name + ("[%s]" % ",".join(extras) if extras else "")
        ver = v.get("version", "*")
        if isinstance(ver, str) and ver.strip() not in ("", "*"):
            return base + ver.strip()
        if any(k in v for k in ("git", "path", "file", "editable")):
            print("WARNING: skipping %s: only index packages are supported in Pipfile" % name, file=sys.stderr)
            return None
        return base
    return name


def main():
    build = sys.argv[1]
    req = os.path.join(build, "requirements.txt")
    if os.path.isfile(req):
        if significant(req):
            print("-r")
            print(req)
        return
    pyproject = os.path.join(build, "pyproject.toml")
    if os.path.isfile(pyproject):
        data = load_toml(pyproject)
        deps = (data.get("project") or {}).get("dependencies") or []
        for d in deps:
            if isinstance(d, str) and d.strip():
                print(d.strip())
        return
    pipfile = os.path.join(build, "Pipfile")
    if os.path.isfile(pipfile):
        data = load_toml(pipfile)
        for name, v in (data.get("packages") or {}).items():
            s = pipfile_spec(name, v)
            if s:
                print(s)


main()
